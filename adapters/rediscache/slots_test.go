package rediscache

import (
	"strings"
	"testing"
)

func TestKeySlotMatchesRedis(t *testing.T) {
	// The Redis Cluster specification's CRC16 check value (0x31C3 for
	// "123456789") and slots CLUSTER KEYSLOT gives for these keys.
	for tag, want := range map[string]int{"123456789": 0x31C3, "foo": 12182, "bar": 5061, "hello": 866, "": 0} {
		if got := keySlot(tag); got != want {
			t.Errorf("keySlot(%q) = %d, want %d", tag, got, want)
		}
	}
}

func TestSpreadTagsEvenOverContiguousMasters(t *testing.T) {
	for _, n := range []int{2, 3, 16, 64} {
		tags := spreadTags("p:directory", n)
		if len(tags) != n {
			t.Fatalf("n=%d: %d tags", n, len(tags))
		}
		seen := map[string]bool{}
		for k, tag := range tags {
			if s := keySlot(tag); s < k*clusterSlots/n || s >= (k+1)*clusterSlots/n {
				t.Errorf("n=%d shard %d: tag %q in slot %d, outside its range", n, k, tag, s)
			}
			if seen[tag] || !strings.HasPrefix(tag, "p:directory~") {
				t.Errorf("n=%d: tag %q repeated or misnamed", n, tag)
			}
			seen[tag] = true
		}
		// Masters owning equal contiguous ranges, as redis-cli --cluster
		// create makes them, hold n/masters shards each, give or take one.
		for masters := 1; masters <= 6; masters++ {
			per := make([]int, masters)
			for _, tag := range tags {
				per[min(masters-1, keySlot(tag)*masters/clusterSlots)]++
			}
			lo, hi := per[0], per[0]
			for _, c := range per {
				lo, hi = min(lo, c), max(hi, c)
			}
			if hi-lo > 1 {
				t.Errorf("n=%d over %d masters: shards per master %v", n, masters, per)
			}
		}
	}
	if a, b := spreadTags("capfresh", 16), spreadTags("capfresh", 16); &a[0] != &b[0] {
		t.Error("spreadTags not cached")
	}
}
