// Package keyring holds the server's secret key: the root of the keys that
// sign page tokens and encrypt secrets at rest. The key lives in its own
// file (mode 0600), outside the metadata database, so a copy of the database
// alone reveals no secret.
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Keyring derives purpose-bound keys from one 32-byte master key.
type Keyring struct {
	master []byte
}

// New returns a keyring over master, which must be 32 bytes.
func New(master []byte) (*Keyring, error) {
	if len(master) != 32 {
		return nil, errors.New("keyring: master key must be 32 bytes")
	}
	return &Keyring{master: append([]byte(nil), master...)}, nil
}

// LoadOrCreate reads the master key from path, creating it (0600, parent
// 0700) with random bytes on first use.
func LoadOrCreate(path string) (*Keyring, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		b = make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("keyring: creating %s: %w", path, err)
		}
		if _, err := f.Write(b); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("keyring: reading %s: %w", path, err)
	}
	return New(b)
}

// Key derives a 32-byte key for purpose (HMAC-SHA256 of the master key).
func (k *Keyring) Key(purpose string) []byte {
	m := hmac.New(sha256.New, k.master)
	m.Write([]byte("openfinspace/" + purpose))
	return m.Sum(nil)
}

// Seal encrypts and authenticates plaintext with the key of purpose
// (AES-256-GCM, random nonce prepended). aad binds the ciphertext to its
// context (e.g. the record id) so it cannot be moved to another record.
func (k *Keyring) Seal(purpose string, plaintext, aad []byte) ([]byte, error) {
	aead, err := k.aead(purpose)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, plaintext, aad), nil
}

// Open decrypts what Seal produced.
func (k *Keyring) Open(purpose string, sealed, aad []byte) ([]byte, error) {
	aead, err := k.aead(purpose)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("keyring: sealed data too short")
	}
	n := aead.NonceSize()
	return aead.Open(nil, sealed[:n], sealed[n:], aad)
}

func (k *Keyring) aead(purpose string) (cipher.AEAD, error) {
	block, err := aes.NewCipher(k.Key(purpose))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
