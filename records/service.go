package records

import (
	"context"
	"log/slog"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
)

// Store is what the record service needs of the resource store: the
// fhir.Store contract's reads, history, commit and search.
type Store interface {
	Read(ctx context.Context, partition, typ, id string) (fhir.Resource, error)
	ReadVersion(ctx context.Context, partition, typ, id string, version int64) (fhir.Resource, error)
	History(ctx context.Context, partition, typ, id string, offset, count int) ([]fhir.Resource, int, error)
	Commit(ctx context.Context, partition string, writes []fhir.Write, guards []fhir.Guard) error
	Search(ctx context.Context, partition string, q fhir.Query) ([]fhir.Resource, int, error)
}

var _ Store = fhir.Store(nil)

// DirectoryWrite is a directory resource on its way into the store, as the
// directory's ownership rules see it.
type DirectoryWrite struct {
	Type, ID string
	// Path is the resource's FHIRPath in the request ("Location", or
	// "Bundle.entry[2].resource"); issues are named under it.
	Path string
	// Doc is the resource as written, decoded (fhir.DecodeDoc).
	Doc map[string]any
	// Replaces says the write updates the stored version of Type/ID.
	Replaces bool
	// Pending holds the other resources of the same transaction by their
	// final reference ("Organization/abc"), so references between entries
	// resolve before anything is stored.
	Pending map[string]map[string]any
}

// Directory is the provider directory's part in the write path.
type Directory interface {
	// CheckWrite decides whether the caller may write a directory entry:
	// nil, or a *discharge.Error naming the element at fault.
	CheckWrite(ctx context.Context, p *auth.Principal, w DirectoryWrite) error
	// IndexLocation keeps derived data (the geo index behind near) in step
	// with a stored Location. It cannot fail the commit that came before.
	IndexLocation(ctx context.Context, id string, doc map[string]any)
}

// NearIndex finds directory Locations near a point (Location?near=).
type NearIndex interface {
	NearLocations(ctx context.Context, areas []string, lat, lon, radiusKm float64, limit int) ([]discharge.Nearby, error)
}

// CaseCloser closes a discharge case when its Encounter ends
// (referral.Service.CloseCase): its open offers are cancelled and their
// holds released. It must be idempotent: the record calls it after every
// commit that stores an ended Encounter, and a sweep retries the closures
// that failed.
type CaseCloser interface {
	CloseCase(ctx context.Context, partition, encounterID string, finished bool) error
}

// Areas names the geo shards near a point.
type Areas interface {
	AreasNear(lat, lon, radiusKm float64) []string
}

// Config holds the record service's settings.
type Config struct {
	// Limits bounds JSON nesting and Bundle entries.
	Limits fhir.Limits
	// BaseURL, when set, is the public base of the FHIR endpoint: an
	// absolute reference under it is a reference to this server.
	BaseURL string
}

// Deps are the record service's collaborators.
type Deps struct {
	Store      Store
	Directory  Directory
	Near       NearIndex // nil: near finds nothing
	Areas      Areas
	Translator *mappings.Translator
	Logger     *slog.Logger
	Now        func() time.Time
	// NewID makes the id of a created resource.
	NewID func() string
	// Cases is told of Encounters stored finished, cancelled or entered in
	// error, after their commit; nil: nobody.
	Cases CaseCloser
}

// Service is the FHIR record service.
type Service struct {
	cfg   Config
	store Store
	dir   Directory
	near  NearIndex
	areas Areas
	tr    *mappings.Translator
	log   *slog.Logger
	now   func() time.Time
	newID func() string
	types map[string]bool
	cases CaseCloser
}

// New builds the record service.
func New(cfg Config, d Deps) *Service {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	s := &Service{cfg: cfg, store: d.Store, dir: d.Directory, near: d.Near, areas: d.Areas, tr: d.Translator,
		log: d.Logger, now: d.Now, newID: d.NewID, types: map[string]bool{}, cases: d.Cases}
	for _, t := range Types() {
		s.types[t] = true
	}
	return s
}

// MapOptions are the mapping options for resources held in a partition.
func (s *Service) MapOptions(partition string) mappings.Options {
	return mappings.Options{Translator: s.tr, AsOf: s.now(), Trust: partition}
}
