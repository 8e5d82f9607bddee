// Package deploy holds the deployable artefacts; its test is a schema check
// that needs nothing beyond the module: every Kubernetes manifest is decoded
// strictly (an unknown or misspelt field, or a wrong type, is an error) into
// the official API types of its kind, each kustomization names exactly the
// files beside it, and the Redis configuration is one redis-server accepts.
// scripts/deploy-check.sh adds kustomize and kubeconform on the built
// output.
package deploy

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

func typed(apiVersion, kind string) (any, bool) {
	switch apiVersion + "/" + kind {
	case "v1/Namespace":
		return &corev1.Namespace{}, true
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}, true
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, true
	case "v1/Secret":
		return &corev1.Secret{}, true
	case "v1/Service":
		return &corev1.Service{}, true
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}, true
	case "apps/v1/StatefulSet":
		return &appsv1.StatefulSet{}, true
	case "batch/v1/Job":
		return &batchv1.Job{}, true
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, true
	case "autoscaling/v2/HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}, true
	case "networking.k8s.io/v1/NetworkPolicy":
		return &networkingv1.NetworkPolicy{}, true
	}
	return nil, false
}

func documents(t *testing.T, file string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, d := range bytes.Split(b, []byte("\n---\n")) {
		if len(bytes.TrimSpace(stripComments(d))) > 0 {
			out = append(out, d)
		}
	}
	return out
}

func stripComments(b []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			out = append(out, l)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// kustomizations are the folders with a kustomization.yaml.
var kustomizations = []string{filepath.Join("k8s"), filepath.Join("k8s", "base"), filepath.Join("k8s", "example")}

func TestManifestsMatchTheKubernetesAPI(t *testing.T) {
	kinds := map[string]int{}
	for _, dir := range kustomizations {
		var kust struct {
			Resources []string `json:"resources"`
		}
		k, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(k, &kust); err != nil {
			t.Fatal(err)
		}
		listed := map[string]bool{}
		for _, r := range kust.Resources {
			if !strings.HasSuffix(r, ".yaml") {
				if fi, err := os.Stat(filepath.Join(dir, r)); err != nil || !fi.IsDir() {
					t.Errorf("%s: resource %s is neither a file nor a folder here", dir, r)
				}
				continue
			}
			listed[r] = true
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, f := range files {
			base := filepath.Base(f)
			if base == "kustomization.yaml" {
				continue
			}
			if !listed[base] {
				t.Errorf("%s is not in %s/kustomization.yaml", base, dir)
			}
			delete(listed, base)
			for i, doc := range documents(t, f) {
				var head struct {
					APIVersion string `json:"apiVersion"`
					Kind       string `json:"kind"`
				}
				if err := yaml.Unmarshal(doc, &head); err != nil {
					t.Fatalf("%s document %d: %v", f, i, err)
				}
				obj, ok := typed(head.APIVersion, head.Kind)
				if !ok {
					t.Fatalf("%s document %d: no schema for %s %s", f, i, head.APIVersion, head.Kind)
				}
				if err := yaml.UnmarshalStrict(doc, obj); err != nil {
					t.Errorf("%s document %d (%s): %v", f, i, head.Kind, err)
				}
				kinds[head.Kind]++
				check(t, base, obj)
			}
		}
		for r := range listed {
			t.Errorf("%s/kustomization.yaml lists %s, which does not exist", dir, r)
		}
	}
	for _, want := range []string{"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "ConfigMap", "Secret", "NetworkPolicy", "StatefulSet", "ServiceAccount"} {
		if kinds[want] == 0 {
			t.Errorf("no %s among the manifests", want)
		}
	}
}

// check holds the rules a schema does not: probes, limits, non-root.
func check(t *testing.T, file string, obj any) {
	t.Helper()
	var spec *corev1.PodSpec
	long := true // long-running: needs probes
	switch o := obj.(type) {
	case *appsv1.Deployment:
		spec = &o.Spec.Template.Spec
	case *appsv1.StatefulSet:
		spec = &o.Spec.Template.Spec
	case *batchv1.Job:
		spec, long = &o.Spec.Template.Spec, false
	default:
		return
	}
	if spec.SecurityContext == nil || spec.SecurityContext.RunAsNonRoot == nil || !*spec.SecurityContext.RunAsNonRoot {
		t.Errorf("%s: pods must run as non-root", file)
	}
	if spec.SecurityContext == nil || spec.SecurityContext.SeccompProfile == nil || spec.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pods must use the RuntimeDefault seccomp profile", file)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("%s: pods must not mount a service account token", file)
	}
	for _, c := range spec.Containers {
		if long && (c.ReadinessProbe == nil || c.LivenessProbe == nil) {
			t.Errorf("%s/%s: readiness and liveness probes are required", file, c.Name)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s/%s: CPU request and memory limit are required", file, c.Name)
		}
		if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
			t.Errorf("%s/%s: the root filesystem must be read-only", file, c.Name)
		}
		if c.SecurityContext == nil || c.SecurityContext.Capabilities == nil || len(c.SecurityContext.Capabilities.Drop) != 1 || c.SecurityContext.Capabilities.Drop[0] != "ALL" {
			t.Errorf("%s/%s: every capability must be dropped", file, c.Name)
		}
	}
}

// TestRedisConfigIsAccepted starts redis-server with the cluster node
// configuration from the manifests (paths redirected to a temporary
// directory): a directive redis-server does not know fails the test.
func TestRedisConfigIsAccepted(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("REDISTEST_REQUIRED") == "1" {
			t.Fatal("redis-server not on PATH")
		}
		t.Skip("redis-server not on PATH")
	}
	var conf string
	for _, doc := range documents(t, filepath.Join("k8s", "base", "redis-cluster.yaml")) {
		var cm struct {
			Kind string            `json:"kind"`
			Data map[string]string `json:"data"`
		}
		if err := yaml.Unmarshal(doc, &cm); err == nil && cm.Kind == "ConfigMap" {
			conf = cm.Data["redis.conf"]
		}
	}
	if conf == "" {
		t.Fatal("no redis.conf in redis-cluster.yaml")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "redis.conf")
	conf = strings.ReplaceAll(conf, "/data", dir)
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	if port > 55535 {
		port -= 10000 // the cluster bus listens on port + 10000
	}
	cmd := exec.Command("redis-server", file, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--requirepass", "x", "--masterauth", "x")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case err := <-exited:
			t.Fatalf("redis-server refused the configuration: %v\n%s", err, out.String())
		default:
		}
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("redis-server did not start with the configuration:\n%s", out.String())
}
