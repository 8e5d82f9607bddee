package rediscache

import (
	"strconv"
	"strings"
	"sync"
)

// Spreading a sharded key space evenly over a cluster's masters.
//
// Redis Cluster puts a key in slot CRC16(hash tag) mod 16384, and
// `redis-cli --cluster create` and `rebalance` give each master one
// contiguous, equal range of slots. Shard tags numbered 0..n-1 hash to slots
// that bunch: the 16 directory tags "p:directory~0".."~15" fall 4, 4 and 8
// on three masters, so one master held half of the directory. spreadTags
// instead picks, for shard k of n, the first of "base~k", "base~k.1",
// "base~k.2", … whose slot lies near the middle of the k-th n-th of the slot
// space (within a sixteenth of its width, at least one slot). Shards then sit
// at nearly evenly spaced slots, and a cluster whose masters own equal
// contiguous ranges holds n/masters of them each, give or take one (tested
// for 2–64 shards over 1–6 masters). The tags are a pure function of
// (base, n): every process computes the same.

const clusterSlots = 16384

// keySlot is the Redis Cluster slot of a hash tag (the text between the
// braces): CRC16-CCITT (XMODEM, polynomial 0x1021, initial value 0) mod
// 16384, as the Redis Cluster specification defines it.
func keySlot(tag string) int {
	var crc uint16
	for i := 0; i < len(tag); i++ {
		crc ^= uint16(tag[i]) << 8
		for b := 0; b < 8; b++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % clusterSlots
}

// maxShards bounds n so that spreadTags finds each tag in a few thousand
// tries at most (a window of three slots in 16384).
const maxShards = 1024

var spreadCache sync.Map // "base|n" → []string

// spreadTags returns the hash tags of n shards of base, the k-th near the
// middle of the k-th n-th of the slot space (see above).
func spreadTags(base string, n int) []string {
	n = max(1, min(n, maxShards))
	key := base + "|" + strconv.Itoa(n)
	if v, ok := spreadCache.Load(key); ok {
		return v.([]string)
	}
	tags := make([]string, n)
	var b strings.Builder
	for k := range n {
		mid := (2*k + 1) * clusterSlots / (2 * n)
		w := max(1, clusterSlots/n/32)
		lo, hi := mid-w, mid+w+1
		for salt := 0; ; salt++ {
			b.Reset()
			b.WriteString(base)
			b.WriteByte('~')
			b.WriteString(strconv.Itoa(k))
			if salt > 0 {
				b.WriteByte('.')
				b.WriteString(strconv.Itoa(salt))
			}
			if s := keySlot(b.String()); s >= lo && s < hi {
				tags[k] = b.String()
				break
			}
		}
	}
	v, _ := spreadCache.LoadOrStore(key, tags)
	return v.([]string)
}
