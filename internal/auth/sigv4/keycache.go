package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"sync"
)

// keyCacheSize bounds the number of derived signing keys kept per Verifier.
// A key is valid for one (access key, day, region, service), so this covers
// many active credentials; when full an arbitrary entry is evicted.
const keyCacheSize = 1024

type keyCacheKey struct {
	accessKeyID, date, region, service string
}

type keyCacheEntry struct {
	// secret is the secret the key was derived from: a rotated secret
	// misses the cache instead of reusing a stale key.
	secret string
	key    [sha256.Size]byte
}

// keyCache holds derived SigV4 signing keys; safe for concurrent use, zero
// value ready.
type keyCache struct {
	mu sync.Mutex
	m  map[keyCacheKey]keyCacheEntry
}

func (c *keyCache) signingKey(secret string, s Scope) [sha256.Size]byte {
	k := keyCacheKey{s.AccessKeyID, s.Date, s.Region, s.Service}
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	// Both secrets come from the credential store, never from the
	// request, so a plain comparison leaks nothing to the client.
	if ok && e.secret == secret {
		return e.key
	}
	key := deriveKey(secret, s.Date, s.Region, s.Service)
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[keyCacheKey]keyCacheEntry)
	}
	if _, present := c.m[k]; !present && len(c.m) >= keyCacheSize {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = keyCacheEntry{secret: secret, key: key}
	c.mu.Unlock()
	return key
}

func (c *keyCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// deriveKey computes the SigV4 signing key:
// HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request").
func deriveKey(secret, date, region, service string) [sha256.Size]byte {
	k := hmacSum([]byte("AWS4"+secret), date)
	k = hmacSum(k, region)
	k = hmacSum(k, service)
	k = hmacSum(k, Terminal)
	var out [sha256.Size]byte
	copy(out[:], k)
	return out
}

func hmacSum(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
