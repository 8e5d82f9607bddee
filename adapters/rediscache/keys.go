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
// What each key family is, and what it is rebuilt from when Redis loses it.
// Redis holds the record (the first block) until the system of record moves
// to PostgreSQL (adapters/sqlstore); everything below it is derived or
// disposable:
//
//	family                      kind                 rebuilt from
//	dg:{p:P}:…                  the record store     (the record itself, until it moves to adapters/sqlstore)
//	dg:{pr:P:n}                 directory routing    the directory's resources: re-import the directory
//	dg:{cap:L}, dg:{cap:L}:h    current capacity     the latest capacity posting per location
//	dg:{geo:B:A}[:v|:g]         geo shards           current capacity and the directory's Location positions
//	dg:{geo:loc:A}              locations by area    the directory's Location positions
//	dg:{hc:D}                   home-care coverage   current home-care postings
//	dg:{capfresh~n}             freshness index      current capacity (as-of times)
//	dg:{c:C}:jti:…, :rl:…       replay, rate limits  nothing: they expire within minutes
//	dg:{audit}:events           audit stream         (the record, until it moves to adapters/sqlstore)
//
// All keys of one partition (one organisation's data) carry the hash tag
// {p:<partition>}, so every key a Commit or Search script touches hashes to
// the same slot and the scripts run unchanged on Redis Cluster. User-derived
// text (ids, tokens) only ever follows the tag, so it cannot change the slot.
//
//	dg:{p:P}:r:<Type>:<id>              HASH v (version), j (JSON), lu (last updated, Unix ns), ix (index memberships)
//	dg:{p:P}:h:<Type>:<id>              HASH "<v>" → JSON, "<v>:lu" → last updated: the history
//	dg:{p:P}:all:<Type>                 ZSET of ids (score 0, ordered by id): unfiltered search and totals
//	dg:{p:P}:t:<Type>:<param>:<token>   SET of ids whose param has the token value
//	dg:{p:P}:lo:<Type>:<param>          ZSET id → low end of the indexed range (date parameters)
//	dg:{p:P}:hi:<Type>:<param>          ZSET id → high end of the indexed range
//	dg:{p:P}:gen                        counter: one more per Commit (cache invalidation)
type keys struct{ prefix string }

func keysFor(partition string) keys {
	// Braces in a partition name would end the tag early.
	p := safeTag(partition)
	return keys{prefix: "dg:{p:" + p + "}:"}
}

func (k keys) resource(typ, id string) string { return k.prefix + "r:" + typ + ":" + id }
func (k keys) history(typ, id string) string  { return k.prefix + "h:" + typ + ":" + id }
func (k keys) all(typ string) string          { return k.prefix + "all:" + typ }
func (k keys) token(typ, param, token string) string {
	return k.prefix + "t:" + typ + ":" + param + ":" + token
}
func (k keys) generation() string            { return k.prefix + "gen" }
func (k keys) low(typ, param string) string  { return k.prefix + "lo:" + typ + ":" + param }
func (k keys) high(typ, param string) string { return k.prefix + "hi:" + typ + ":" + param }

// Security keys. Each client's replay and rate keys carry the client in the
// hash tag, spreading clients over the cluster; the audit stream is one key.
//
//	dg:{c:<client>}:jti:<jti>          replayed-assertion check, expires with the assertion
//	dg:{c:<client>}:rl:<window start>  requests in a rate-limit window
//	dg:{audit}:events                  STREAM of audit entries, trimmed by MINID to the retention
const auditKey = "dg:{audit}:events"

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

// Capacity keys (capacity.go). A posting and its history share a slot; the
// geo shards are separate keys on purpose: one key per bed type would be a
// national hot key.
//
//	dg:{cap:<location>}            HASH asOf (Unix ms), v (version), doc (the posting's JSON)
//	dg:{cap:<location>}:h          STREAM of applied postings, capped at the history length
//	dg:{geo:<bed type>:<area>}     GEO set of location ids (one shard per bed type and postcode area)
//	dg:{geo:<bed type>:<area>}:v   HASH location id → capacity version the shard last saw (same slot as the shard)
//	dg:{geo:<bed type>:<area>}:g   the shard's generation, moved by every change to the two above (geocache.go)
//	dg:{geo:loc:<area>}            HASH location id → the area's locations
//	dg:{hc:<district>}             SET of locations that posted home care for a postcode district
func capKey(loc string) string { return "dg:{cap:" + safeTag(loc) + "}" }

// coverageKey is the set of locations that have posted home care for a
// postcode district: one small key per district.
func coverageKey(outcode string) string { return "dg:{hc:" + safeTag(outcode) + "}" }
func capHistoryKey(loc string) string   { return capKey(loc) + ":h" }
func geoKey(bed discharge.BedType, area string) string {
	return "dg:{geo:" + safeTag(string(bed)) + ":" + safeTag(area) + "}"
}
func geoVersionKey(bed discharge.BedType, area string) string { return geoKey(bed, area) + ":v" }
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

// Directory routing keys (shards.go).
func routeKey(partition, ref string) string {
	return "dg:{pr:" + safeTag(partition) + ":" + strconv.Itoa(int(hashOf(ref)%routeBuckets)) + "}"
}
