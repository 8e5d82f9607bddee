package rediscache

import (
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/dischargegateway/gateway/discharge"
)

// Every key the gateway writes is built in this file, and nowhere else in
// the module (an import-rule test keeps go-redis inside this adapter).
//
// Redis holds no record: the system of record (resources and their
// history, capacity postings as asserted, the audit trail) is SQL
// (adapters/sqlstore). Every key family here is derived from it or
// disposable, and says what it is rebuilt from when Redis loses it:
//
//	family                      kind                 rebuilt from
//	dg:{cap:L}                  current capacity     the latest capacity posting per location in the record (gateway rebuild-cache; at start and every GATEWAY_CACHE_CHECK)
//	dg:{geo:B:A}[:rv|:g]        geo shards           current capacity and the record's Location positions (the same rebuild)
//	dg:{geo:loc:A}              locations by area    the record's directory Locations (the same rebuild, forced at start)
//	dg:{hc:D}                   home-care coverage   current home-care postings (the same rebuild)
//	dg:{capfresh~n}             freshness index      current capacity (as-of times; the same rebuild)
//	dg:{c:C}:jti:…, :rl:…       replay, rate limits  nothing: they expire within minutes
//	dg:{web:S}                  dashboard sessions   nothing: losing one signs a person out (session.go)
//
// Until 2026-12-02 the versions were the cache's own (field v, hashes
// :v) and each location's history was a capped stream, dg:{cap:L}:h.
// Nothing reads those now; a cache written before may keep them
// until it is flushed (they are safe to UNLINK). A hash written before
// has no rv: the next posting for it applies by its as-of alone.
//
// Keys whose text comes from users (ids, tokens) put it after the hash tag
// or through safeTag, so it cannot move a key to another slot.

// Security keys. Each client's replay and rate keys carry the client in the
// hash tag, spreading clients over the cluster.
//
//	dg:{c:<client>}:jti:<jti>          replayed-assertion check, expires with the assertion
//	dg:{c:<client>}:rl:<window start>  requests in a rate-limit window

func clientTag(id string) string { return "dg:{c:" + safeTag(id) + "}:" }

// safeTag keeps user-derived text from ending a hash tag early.
func safeTag(s string) string { return braces.Replace(s) }

// braces is built once: a Replacer builds its lookup table on first use,
// which showed in the placement profile when one was made per key.
var braces = strings.NewReplacer("{", "(", "}", ")")

func jtiKey(client, jti string) string { return clientTag(client) + "jti:" + jti }
func rateKey(client string, w int64) string {
	return clientTag(client) + "rl:" + strconv.FormatInt(w, 10)
}

// Dashboard session keys (session.go): the session id is random and
// secret, so one slot per session.
//
//	dg:{web:<session id>}   STRING the session (the dashboard's encoding), expiring with it
func sessionKey(id string) string { return "dg:{web:" + safeTag(id) + "}" }

// Capacity keys (capacity.go). The geo shards are separate keys on purpose:
// one key per bed type would be a national hot key. The versions are the
// record's (capacity_postings.version), so they survive the cache's loss.
//
//	dg:{cap:<location>}            HASH asOf (Unix ms), rv (version), doc (the posting's JSON), garea (its geo shard's area), area (the Location's)
//	dg:{geo:<bed type>:<area>}     GEO set of location ids (one shard per bed type and postcode area)
//	dg:{geo:<bed type>:<area>}:rv  HASH location id → capacity version the shard last saw (same slot as the shard)
//	dg:{geo:<bed type>:<area>}:g   the shard's generation, moved by every change to the two above (geocache.go)
//	dg:{geo:loc:<area>}            HASH location id → the area's locations
//	dg:{hc:<district>}             SET of locations that posted home care for a postcode district
func capKey(loc string) string { return "dg:{cap:" + safeTag(loc) + "}" }

// coverageKey is the set of locations that have posted home care for a
// postcode district: one small key per district.
func coverageKey(outcode string) string { return "dg:{hc:" + safeTag(outcode) + "}" }
func geoKey(bed discharge.BedType, area string) string {
	return "dg:{geo:" + safeTag(string(bed)) + ":" + safeTag(area) + "}"
}
func geoVersionKey(bed discharge.BedType, area string) string { return geoKey(bed, area) + ":rv" }
func geoGenKey(bed discharge.BedType, area string) string     { return geoKey(bed, area) + ":g" }
func locGeoKey(area string) string                            { return "dg:{geo:loc:" + safeTag(area) + "}" }

// Freshness index keys (freshness.go).
func freshnessKey(loc string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(loc))
	return freshnessShardKey(int(h.Sum32() % freshnessShards))
}

func freshnessShardKey(n int) string {
	return "dg:{" + spreadTags("capfresh", freshnessShards)[n] + "}"
}
