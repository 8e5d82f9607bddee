package rediscache

import (
	"strconv"
	"strings"
)

// Every key the gateway writes is built here.
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
