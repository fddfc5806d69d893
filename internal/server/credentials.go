package server

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// RootCredentials are the server's long-term access key.
type RootCredentials struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
}

const (
	akidAlphabet   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

func randomString(alphabet string, n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b), nil
}

// LoadOrCreateRootCredentials returns the root credentials kept in
// dataDir/root-credentials.json, generating them (mode 0600) on first use.
func LoadOrCreateRootCredentials(dataDir string) (RootCredentials, error) {
	path := filepath.Join(dataDir, "root-credentials.json")
	var rc RootCredentials
	b, err := os.ReadFile(path)
	if err == nil {
		if err := json.Unmarshal(b, &rc); err != nil || rc.AccessKeyID == "" || rc.SecretAccessKey == "" {
			return rc, fmt.Errorf("root credentials file %s is corrupt", path)
		}
		return rc, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return rc, err
	}
	suffix, err := randomString(akidAlphabet, 16)
	if err != nil {
		return rc, err
	}
	secret, err := randomString(secretAlphabet, 40)
	if err != nil {
		return rc, err
	}
	rc = RootCredentials{AccessKeyID: "AKIA" + suffix, SecretAccessKey: secret}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return rc, err
	}
	b, _ = json.MarshalIndent(rc, "", "  ")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return rc, err
	}
	return rc, os.Rename(tmp, path)
}
