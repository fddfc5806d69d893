// Package ids makes resource identifiers in the real service's formats.
package ids

import (
	"crypto/rand"
	"math/big"
)

const (
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	base62     = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

func random(alphabet string, n int) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic("ids: crypto/rand failed: " + err.Error())
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}

// EnvironmentID is 22 lowercase letters and digits, like "5lcklyegnrzyxd2aa6qk72".
func EnvironmentID() string { return random(lowerAlnum, 22) }

// Base62 is n characters of [A-Za-z0-9], like the 22-char changeset ids.
func Base62(n int) string { return random(base62, n) }

// LowerAlnum is n characters of [a-z0-9].
func LowerAlnum(n int) string { return random(lowerAlnum, n) }
