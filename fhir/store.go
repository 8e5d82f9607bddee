package fhir

import (
	"context"
	"time"
)

// This file is the contract between the FHIR REST layer and whatever stores
// resources (adapters/rediscache). It speaks of versioned JSON documents and
// search index entries, never of HTTP or Redis.

// Resource is one stored version of a FHIR resource.
type Resource struct {
	Type        string
	ID          string
	VersionID   int64
	LastUpdated time.Time
	// JSON is the complete resource as served, with id and meta.versionId
	// and meta.lastUpdated already set.
	JSON []byte
}

// IndexEntry is one value of one search parameter of a resource.
//
// Token, reference and string parameters use Token, an exact-match key built
// by the index functions in this package (see TokenKeys). Date parameters use
// the closed range [Low, High] in Unix seconds, with IsRange set.
type IndexEntry struct {
	Param   string
	Token   string
	Low     float64
	High    float64
	IsRange bool
}

// Guard is a condition on the store's indexes checked atomically with a
// Commit: the set of resources of Type whose Param has the value Token must
// be empty. It makes conditional create race-safe.
type Guard struct {
	Type  string
	Param string
	Token string
}

// Write is one resource version to store.
type Write struct {
	Resource Resource
	// ExpectVersion is the version that must be current when the write
	// commits: 0 means the resource must not exist yet.
	ExpectVersion int64
	Index         []IndexEntry
}

// Filter is one search parameter of a Query. A resource matches when any of
// AnyOf's tokens is among its entries for Param, or, for a range filter, when
// its range satisfies both bounds. Param "_id" matches resources whose id is
// in AnyOf.
type Filter struct {
	Param string
	AnyOf []string
	Range *RangeFilter
}

// RangeFilter bounds an indexed [Low, High] range: the resource matches when
// Low <= LowAtMost and High >= HighAtLeast (each bound optional).
type RangeFilter struct {
	LowAtMost   *float64
	HighAtLeast *float64
}

// Query is a search of one resource type: the conjunction of its Filters.
// Results are ordered by resource id so paging is stable.
type Query struct {
	Type    string
	Filters []Filter
	Offset  int
	Count   int // 0 returns only the total
	// NoTotal says the caller needs no total, only the page: a store may
	// then skip counting the matches and answer a total of -1 (a caller
	// pages on until a page comes back short).
	NoTotal bool
}

// Store keeps versioned resources with their history and search indexes.
// Partition separates organisations: nothing in one partition is visible from
// another, and everything in one partition may be written atomically.
//
// Errors are *discharge.Error: KindNotFound for a missing resource or version,
// KindRetry when a Write's ExpectVersion or a Guard no longer holds,
// KindUnavailable or KindTimeout when the store cannot be reached.
type Store interface {
	Read(ctx context.Context, partition, typ, id string) (Resource, error)
	ReadVersion(ctx context.Context, partition, typ, id string, version int64) (Resource, error)
	// History returns a page of one resource's versions, newest first: at
	// most count of them, skipping the offset newest, and how many versions
	// there are. KindNotFound when the resource does not exist.
	History(ctx context.Context, partition, typ, id string, offset, count int) ([]Resource, int, error)
	// Commit stores all writes, all their index changes and their history
	// entries atomically, or nothing.
	Commit(ctx context.Context, partition string, writes []Write, guards []Guard) error
	// Search returns one page of matching resources and the total count.
	Search(ctx context.Context, partition string, q Query) ([]Resource, int, error)
	Ping(ctx context.Context) error
	// ReadMany returns the current versions of several resources at once,
	// keyed "Type/id"; absent ones are left out.
	ReadMany(ctx context.Context, partition string, refs []Ref) (map[string]Resource, error)
	// Generation is a counter that grows with every Commit to
	// DirectoryPartition, for caches of what is derived from the
	// directory. Only that partition is promised one: counting every
	// partition's commits would serialise them, so a store may answer
	// KindInternal for any other (adapters/sqlstore does).
	Generation(ctx context.Context, partition string) (int64, error)
	// CommitParts stores writes that stand alone, such as the rows of an
	// idempotent bulk load: where a store spreads the partition over
	// several slots, each slot's part is atomic, not all of them together,
	// and a failure may leave earlier parts stored. Elsewhere it is Commit
	// without guards.
	CommitParts(ctx context.Context, partition string, writes []Write) error
}

// DirectoryPartition is the partition that holds the provider directory
// (Organization, Location, HealthcareService). It is one partition so a
// provider's Organization, Locations and HealthcareServices can be written
// in one transaction and searched together; who may write what is decided
// by ownership, not by partition. A store may spread it over several slots.
const DirectoryPartition = "directory"

// Ref names one resource.
type Ref struct{ Type, ID string }
