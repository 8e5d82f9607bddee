package deploy

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The CloudNativePG CRDs are not Go modules the proxy serves, and their
// JSON Schemas live on GitHub, out of reach here. So the Cluster and
// ScheduledBackup manifests are decoded strictly into the subset of the
// postgresql.cnpg.io/v1 API that they use (field names and types as the
// CloudNativePG API reference gives them, 1.25+): a misspelt or unknown
// field, or a wrong type, fails the check, and the durability policy the
// gateway relies on is asserted on the typed values.

type cnpgSecretKey struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

type cnpgCluster struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		Instances             int    `json:"instances"`
		ImageName             string `json:"imageName"`
		PrimaryUpdateStrategy string `json:"primaryUpdateStrategy"`
		PrimaryUpdateMethod   string `json:"primaryUpdateMethod"`
		PostgreSQL            struct {
			Synchronous *struct {
				Method         string `json:"method"`
				Number         int    `json:"number"`
				DataDurability string `json:"dataDurability"`
			} `json:"synchronous"`
			Parameters map[string]string `json:"parameters"`
		} `json:"postgresql"`
		Bootstrap struct {
			InitDB struct {
				Database string `json:"database"`
				Owner    string `json:"owner"`
				Secret   struct {
					Name string `json:"name"`
				} `json:"secret"`
			} `json:"initdb"`
		} `json:"bootstrap"`
		Storage struct {
			Size string `json:"size"`
		} `json:"storage"`
		WalStorage *struct {
			Size string `json:"size"`
		} `json:"walStorage"`
		Resources struct {
			Requests map[string]string `json:"requests"`
			Limits   map[string]string `json:"limits"`
		} `json:"resources"`
		Affinity struct {
			EnablePodAntiAffinity bool   `json:"enablePodAntiAffinity"`
			PodAntiAffinityType   string `json:"podAntiAffinityType"`
			TopologyKey           string `json:"topologyKey"`
		} `json:"affinity"`
		Monitoring struct {
			EnablePodMonitor bool `json:"enablePodMonitor"`
		} `json:"monitoring"`
		Backup *struct {
			RetentionPolicy   string `json:"retentionPolicy"`
			BarmanObjectStore struct {
				DestinationPath string `json:"destinationPath"`
				S3Credentials   struct {
					AccessKeyID     cnpgSecretKey `json:"accessKeyId"`
					SecretAccessKey cnpgSecretKey `json:"secretAccessKey"`
				} `json:"s3Credentials"`
				Wal struct {
					Compression string `json:"compression"`
					MaxParallel int    `json:"maxParallel"`
				} `json:"wal"`
				Data struct {
					Compression string `json:"compression"`
				} `json:"data"`
			} `json:"barmanObjectStore"`
		} `json:"backup"`
	} `json:"spec"`
}

type cnpgScheduledBackup struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		Schedule             string `json:"schedule"`
		BackupOwnerReference string `json:"backupOwnerReference"`
		Immediate            bool   `json:"immediate"`
		Cluster              struct {
			Name string `json:"name"`
		} `json:"cluster"`
	} `json:"spec"`
}

func TestPostgresClusterManifest(t *testing.T) {
	docs := documents(t, "postgres/cluster.yaml")
	var clusters []cnpgCluster
	var backups []cnpgScheduledBackup
	for i, d := range docs {
		var head struct{ APIVersion, Kind string }
		if err := yaml.Unmarshal(d, &head); err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		if head.APIVersion != "postgresql.cnpg.io/v1" {
			t.Fatalf("document %d: apiVersion %q, want postgresql.cnpg.io/v1", i, head.APIVersion)
		}
		switch head.Kind {
		case "Cluster":
			var c cnpgCluster
			if err := yaml.UnmarshalStrict(d, &c); err != nil {
				t.Fatalf("Cluster: %v", err)
			}
			clusters = append(clusters, c)
		case "ScheduledBackup":
			var b cnpgScheduledBackup
			if err := yaml.UnmarshalStrict(d, &b); err != nil {
				t.Fatalf("ScheduledBackup: %v", err)
			}
			backups = append(backups, b)
		default:
			t.Fatalf("document %d: unexpected kind %q", i, head.Kind)
		}
	}
	if len(clusters) != 1 || len(backups) != 1 {
		t.Fatalf("want one Cluster and one ScheduledBackup, got %d and %d", len(clusters), len(backups))
	}
	c, b := clusters[0], backups[0]
	s := c.Spec
	if c.Metadata.Namespace != "discharge-gateway" || b.Metadata.Namespace != c.Metadata.Namespace {
		t.Errorf("namespaces %q / %q: both must be discharge-gateway", c.Metadata.Namespace, b.Metadata.Namespace)
	}
	if s.Instances < 3 {
		t.Errorf("instances = %d: a primary and two standbys are the minimum for quorum sync replication that survives a node loss", s.Instances)
	}
	if !strings.Contains(s.ImageName, "postgresql:15") {
		t.Errorf("imageName %q: the gateway is tested on PostgreSQL 15", s.ImageName)
	}
	sync := s.PostgreSQL.Synchronous
	if sync == nil || sync.Method != "any" || sync.Number < 1 || sync.Number >= s.Instances || sync.DataDurability != "required" {
		t.Errorf("postgresql.synchronous = %+v: want method any, 1 <= number < instances, dataDurability required (ANY 1 (...), never a silent fall-back to async)", sync)
	}
	if v := s.PostgreSQL.Parameters["synchronous_commit"]; v != "on" {
		t.Errorf("synchronous_commit = %q, want on: a commit must be on a standby's disk before it is acknowledged", v)
	}
	for _, p := range []string{"log_parameter_max_length", "log_parameter_max_length_on_error"} {
		if s.PostgreSQL.Parameters[p] != "0" {
			t.Errorf("%s must be 0: bind parameters carry patient data and must never reach the server log", p)
		}
	}
	if s.Bootstrap.InitDB.Database == "" || s.Bootstrap.InitDB.Owner == "" || s.Bootstrap.InitDB.Secret.Name == "" {
		t.Errorf("bootstrap.initdb needs database, owner and secret: %+v", s.Bootstrap.InitDB)
	}
	if s.Storage.Size == "" || s.WalStorage == nil || s.WalStorage.Size == "" {
		t.Error("storage and walStorage sizes are required (WAL on its own volume)")
	}
	if s.Resources.Requests["memory"] == "" || s.Resources.Limits["memory"] != s.Resources.Requests["memory"] {
		t.Errorf("memory request and limit must be set and equal (no overcommit for the database): %+v", s.Resources)
	}
	if !s.Affinity.EnablePodAntiAffinity || s.Affinity.PodAntiAffinityType != "required" || s.Affinity.TopologyKey == "" {
		t.Errorf("instances must be spread by required anti-affinity: %+v", s.Affinity)
	}
	if s.Backup == nil || s.Backup.RetentionPolicy == "" || !strings.HasPrefix(s.Backup.BarmanObjectStore.DestinationPath, "s3://") {
		t.Fatalf("backup with a retention policy and an object store is required: %+v", s.Backup)
	}
	creds := s.Backup.BarmanObjectStore.S3Credentials
	if creds.AccessKeyID.Name == "" || creds.AccessKeyID.Key == "" || creds.SecretAccessKey.Name == "" || creds.SecretAccessKey.Key == "" {
		t.Errorf("backup credentials must come from a Secret: %+v", creds)
	}
	if b.Spec.Cluster.Name != c.Metadata.Name {
		t.Errorf("ScheduledBackup names cluster %q, want %q", b.Spec.Cluster.Name, c.Metadata.Name)
	}
	// CloudNativePG schedules take six fields, seconds first.
	if f := strings.Fields(b.Spec.Schedule); len(f) != 6 {
		t.Errorf("schedule %q: CloudNativePG wants six cron fields (seconds first)", b.Spec.Schedule)
	}
}

// TestPostgresClusterManifestStrict proves the strict decode rejects what a
// typo would produce, so the check above cannot pass vacuously.
func TestPostgresClusterManifestStrict(t *testing.T) {
	bad := []byte("apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata: {name: x}\nspec:\n  instance: 3\n")
	var c cnpgCluster
	if err := yaml.UnmarshalStrict(bad, &c); err == nil {
		t.Fatal("a misspelt field (spec.instance) decoded without error")
	}
	wrongType := []byte("apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata: {name: x}\nspec:\n  instances: three\n")
	if err := yaml.UnmarshalStrict(wrongType, &c); err == nil {
		t.Fatal("a wrongly typed field (spec.instances) decoded without error")
	}
}

// TestPostgresClusterParametersKnown asks the PostgreSQL the tests run on
// (15) whether every parameter the Cluster sets exists, so a misspelt
// setting, which CloudNativePG would pass through and PostgreSQL refuse at
// start, fails here.
func TestPostgresClusterParametersKnown(t *testing.T) {
	out, err := exec.Command("postgres", "--describe-config").Output()
	if err != nil {
		if os.Getenv("PGTEST_REQUIRED") == "1" {
			t.Fatalf("postgres --describe-config: %v", err)
		}
		t.Skipf("postgres not available: %v", err)
	}
	known := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Split(line, "\t"); len(f) > 3 {
			known[f[0]] = f[3]
		}
	}
	var c cnpgCluster
	if err := yaml.Unmarshal(documents(t, "postgres/cluster.yaml")[0], &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Spec.PostgreSQL.Parameters) == 0 {
		t.Fatal("no parameters read from the Cluster")
	}
	for name, v := range c.Spec.PostgreSQL.Parameters {
		typ, ok := known[name]
		if !ok {
			t.Errorf("parameter %q is unknown to PostgreSQL", name)
			continue
		}
		if typ == "INTEGER" {
			if _, err := strconv.Atoi(v); err != nil && !strings.ContainsAny(v, "kMGTB") {
				t.Errorf("parameter %q = %q is not an integer", name, v)
			}
		}
	}
	if _, ok := known["no_such_parameter_canary"]; ok || len(known) < 200 {
		t.Fatalf("the parameter list looks wrong (%d entries)", len(known))
	}
}
