package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// servingFile, in the data dir, says which server serves that data dir and
// where: `serve` writes it once it listens and removes it when it stops, so
// `credentials` describes the server that is running rather than the
// defaults. It holds no secret.
const servingFile = "serving.json"

type serving struct {
	URL     string    `json:"url"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
}

// writeServing records this process as the server of dataDir at url.
func writeServing(dataDir, url string) error {
	b, err := json.Marshal(serving{URL: url, PID: os.Getpid(), Started: time.Now().UTC()})
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dataDir, servingFile+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dataDir, servingFile))
}

// removeServing removes the record if it is still this process's.
func removeServing(dataDir string) {
	if s, err := readServingFile(dataDir); err == nil && s.PID == os.Getpid() {
		_ = os.Remove(filepath.Join(dataDir, servingFile))
	}
}

// runningServer returns the server serving dataDir, or false when none is
// recorded or the recorded process is gone (a server killed with SIGKILL
// leaves its record behind).
func runningServer(dataDir string) (serving, bool) {
	s, err := readServingFile(dataDir)
	if err != nil || s.PID <= 0 || s.URL == "" {
		return serving{}, false
	}
	if err := syscall.Kill(s.PID, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return serving{}, false
	}
	return s, true
}

func readServingFile(dataDir string) (serving, error) {
	var s serving
	b, err := os.ReadFile(filepath.Join(dataDir, servingFile))
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s: %w", servingFile, err)
	}
	return s, nil
}
