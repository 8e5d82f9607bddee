// Package directory is the provider directory's application service: the
// bulk import of care locations (one Organization, Location and
// HealthcareService per listing), the rules that let a care provider write
// only its own directory entries, and the upkeep of the geo index of
// Locations behind Location?near= and placement.
//
// It speaks FHIR through fhir (documents, index entries) and mappings
// (every element it reads), never HTTP; the caller is an *auth.Principal.
package directory

import (
	"context"
	"log/slog"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// Partition is the store partition that holds the provider directory. It
// is one partition (however a store spreads it) so every caller reads the
// same directory.
const Partition = fhir.DirectoryPartition

// Types are the directory's resource types.
var Types = []string{"Organization", "Location", "HealthcareService"}

// IsType reports whether typ is a directory resource type.
func IsType(typ string) bool {
	for _, t := range Types {
		if t == typ {
			return true
		}
	}
	return false
}

// Store is what the directory needs of the resource store.
type Store interface {
	Read(ctx context.Context, partition, typ, id string) (fhir.Resource, error)
	Search(ctx context.Context, partition string, q fhir.Query) ([]fhir.Resource, int, error)
	// CommitParts stores writes that stand alone, part by part where the
	// store spreads the partition (see fhir.Store).
	CommitParts(ctx context.Context, partition string, writes []fhir.Write) error
	// Generation is the directory partition's change counter (see
	// fhir.Store): every commit to the directory moves it on, in the same
	// transaction.
	Generation(ctx context.Context, partition string) (int64, error)
}

// GeoIndex is the index of Locations by position (adapters/rediscache's
// capacity store keeps it).
type GeoIndex interface {
	IndexLocation(ctx context.Context, id string, pos discharge.Position, area string) error
}

// Geocoder places postcodes and names the geo shard of a position
// (adapters/geocode).
type Geocoder interface {
	Locate(postcode string) (discharge.Position, bool)
	AreaOf(postcode string, pos discharge.Position) string
}

// Service is the provider directory.
type Service struct {
	store Store
	index GeoIndex
	geo   Geocoder
	// parseCSV reads the bulk import's files (ImportCSV).
	parseCSV CSVParser
	log      *slog.Logger
	now      func() time.Time
	// owned caches OwnLocation's yes answers per directory generation.
	owned *ownedCache
	// gens shares reads of the directory's generation between
	// concurrent OwnLocation calls.
	gens genReads
}

// New returns the directory service. index and geo may be nil: Locations
// are then not geo-indexed (a gateway without capacity or geocoding).
// parseCSV reads bulk directory files; nil: ImportCSV refuses them.
// A nil log is slog.Default and a nil now is time.Now.
func New(store Store, index GeoIndex, geo Geocoder, parseCSV CSVParser, log *slog.Logger, now func() time.Time) *Service {
	if log == nil {
		log = slog.Default()
	}
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, index: index, geo: geo, parseCSV: parseCSV, log: log, now: now, owned: newOwnedCache(0)}
}

// Place finds where a Location is on the map: its position, else its
// postcode's; and the postcode area whose geo shard holds it. pos is nil
// when neither is known.
func (s *Service) Place(pos *discharge.Position, postcode string) (*discharge.Position, string) {
	if s.geo == nil {
		return nil, ""
	}
	if pos == nil && postcode != "" {
		if p, ok := s.geo.Locate(postcode); ok {
			pos = &p
		}
	}
	if pos == nil {
		return nil, ""
	}
	return pos, s.geo.AreaOf(postcode, *pos)
}
