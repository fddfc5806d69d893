package kx

import (
	"errors"
	"io"
	"math/bits"
	"sync"
)

// Buffers for the sources store reads into memory, pooled by power-of-two
// size class from 64 KiB up to inMemoryMax. A whole-database changeset
// reads thousands of files of about a megabyte: with io.ReadAll each one
// grew a fresh buffer by doubling (copying as it went), and allocation and
// the GC it caused took about a fifth of the server's CPU for a 2 GB
// database (bench/README.md, "kx databases").
const minBufClass = 16 // 64 KiB

var bufPools = make([]sync.Pool, bufClass(inMemoryMax)-minBufClass+1)

// bufClass is the size class of an n-byte buffer: the smallest c ≥
// minBufClass with 1<<c ≥ n.
func bufClass(n int64) int {
	if n <= 1<<minBufClass {
		return minBufClass
	}
	return bits.Len64(uint64(n - 1))
}

// getBuf returns a buffer of at least n bytes (n ≤ inMemoryMax), to give
// back with putBuf once nothing refers to it any more.
func getBuf(n int64) *[]byte {
	c := bufClass(n)
	if b, ok := bufPools[c-minBufClass].Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 1<<c)
	return &b
}

func putBuf(b *[]byte) {
	c := bufClass(int64(cap(*b)))
	if 1<<c != cap(*b) || c-minBufClass >= len(bufPools) {
		return
	}
	*b = (*b)[:cap(*b)]
	bufPools[c-minBufClass].Put(b)
}

// errLongerThanListed: a source yielded more bytes than its size.
var errLongerThanListed = errors.New("kx: the source object is longer than its listed size (it changed while it was read)")

// readExactly reads exactly len(buf) bytes of r and checks that r ends
// there.
func readExactly(r io.Reader, buf []byte) error {
	if _, err := io.ReadFull(r, buf); err != nil {
		return err
	}
	var one [1]byte
	for range 100 {
		n, err := r.Read(one[:])
		if n > 0 {
			return errLongerThanListed
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}
