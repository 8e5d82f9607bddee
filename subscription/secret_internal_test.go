package subscription

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func TestSecretSealing(t *testing.T) {
	key := bytes.Repeat([]byte{7}, SecretKeySize)
	other := bytes.Repeat([]byte{8}, SecretKeySize)
	sealed, err := sealSecret(key, "sub-1", "the-secret")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sealed, sealedPrefix) || strings.Contains(sealed, "the-secret") {
		t.Fatalf("sealed %q", sealed)
	}
	if again, _ := sealSecret(key, "sub-1", "the-secret"); again == sealed {
		t.Fatal("two seals of one secret are equal: the nonce is not fresh")
	}
	for _, c := range []struct {
		name   string
		key    []byte
		id     string
		stored string
		want   string
		ok     bool
	}{
		{"opens with its key", key, "sub-1", sealed, "the-secret", true},
		{"another key", other, "sub-1", sealed, "", false},
		{"no key", nil, "sub-1", sealed, "", false},
		{"moved to another Subscription", key, "sub-2", sealed, "", false},
		{"truncated", key, "sub-1", sealed[:len(sealed)-4], "", false},
		{"not base64", key, "sub-1", sealedPrefix + "!!!", "", false},
		{"in clear, from before the key", key, "sub-1", "old-clear-secret", "old-clear-secret", true},
		{"in clear, no key", nil, "sub-1", "old-clear-secret", "old-clear-secret", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := openSecret(c.key, c.id, c.stored)
			if (err == nil) != c.ok || got != c.want {
				t.Fatalf("open: %q, %v", got, err)
			}
		})
	}
	if clear, _ := sealSecret(nil, "sub-1", "s"); clear != "s" {
		t.Fatalf("without a key the secret is stored as it is, got %q", clear)
	}
	for _, c := range []struct {
		in string
		ok bool
	}{
		{base64.StdEncoding.EncodeToString(key), true},
		{base64.RawURLEncoding.EncodeToString(key), true},
		{"", true},
		{base64.StdEncoding.EncodeToString(key[:16]), false},
		{"not a key", false},
	} {
		k, err := ParseSecretKey(c.in)
		if (err == nil) != c.ok || (c.ok && c.in != "" && !bytes.Equal(k, key)) {
			t.Errorf("ParseSecretKey(%q): %v %v", c.in, k, err)
		}
	}
}
