package identity

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"slices"
	"time"
)

// Password is a salted password hash; the password itself is never stored.
type Password struct {
	Salt       []byte    `json:"salt"`
	Hash       []byte    `json:"hash"`
	Iterations int       `json:"iterations"`
	Expires    time.Time `json:"expires"`
	Temporary  bool      `json:"temporary"`
}

const (
	passwordIterations   = 210000 // OWASP's PBKDF2-HMAC-SHA256 figure
	temporaryPasswordTTL = 7 * 24 * time.Hour
)

func hashPassword(pw string, salt []byte, iter int) []byte {
	h, err := pbkdf2.Key(sha256.New, pw, salt, iter, 32)
	if err != nil {
		panic("identity: pbkdf2: " + err.Error())
	}
	return h
}

// newTemporaryPassword returns a random password meeting the usual rules
// (upper, lower, digit, symbol) and its stored hash.
func newTemporaryPassword(now time.Time) (string, *Password) {
	const (
		upper  = "ABCDEFGHJKLMNPQRSTUVWXYZ"
		lower  = "abcdefghijkmnopqrstuvwxyz"
		digits = "23456789"
		symbol = "!#%+-=@^_"
	)
	all := upper + lower + digits + symbol
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	out := make([]byte, len(b))
	for i, v := range b {
		set := all
		switch i {
		case 0:
			set = upper
		case 1:
			set = lower
		case 2:
			set = digits
		case 3:
			set = symbol
		}
		out[i] = set[int(v)%len(set)]
	}
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	pw := string(out)
	return pw, &Password{Salt: salt, Hash: hashPassword(pw, salt, passwordIterations), Iterations: passwordIterations,
		Expires: now.Add(temporaryPasswordTTL), Temporary: true}
}

// Matches reports whether pw is this password and has not expired.
func (p *Password) Matches(pw string, now time.Time) bool {
	if p == nil || now.After(p.Expires) {
		return false
	}
	return subtle.ConstantTimeCompare(hashPassword(pw, p.Salt, p.Iterations), p.Hash) == 1
}

func (p *Password) clone() *Password {
	if p == nil {
		return nil
	}
	c := *p
	c.Salt, c.Hash = slices.Clone(p.Salt), slices.Clone(p.Hash)
	return &c
}
