package keyring

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadOrCreatePersistsKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "server.key")
	k1, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	k2, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k1.Key("x"), k2.Key("x")) {
		t.Fatal("reloaded keyring derives different keys")
	}
	if bytes.Equal(k1.Key("x"), k1.Key("y")) {
		t.Fatal("different purposes derive the same key")
	}
}

func TestSealOpen(t *testing.T) {
	k, err := New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := k.Seal("p", []byte("secret"), []byte("id-1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("secret")) {
		t.Fatal("sealed data contains the plaintext")
	}
	got, err := k.Open("p", sealed, []byte("id-1"))
	if err != nil || string(got) != "secret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := k.Open("p", sealed, []byte("id-2")); err == nil {
		t.Fatal("Open accepted data moved to another record")
	}
	if _, err := k.Open("q", sealed, []byte("id-1")); err == nil {
		t.Fatal("Open accepted data sealed for another purpose")
	}
	if _, err := New([]byte("short")); err == nil {
		t.Fatal("New accepted a short key")
	}
}
