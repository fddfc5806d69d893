package ipc

import (
	"fmt"
	"net"
)

// The kdb+ IPC compression (the z and u methods of kx's c.java), as
// described by its decompressor. A compressed message is the original
// header with byte 2 set to 1 and the length of the compressed message,
// then the uncompressed total length (int32, message byte order), then a
// stream of groups: one control byte whose bits, lowest first, say whether
// each of the next up to 8 items is a literal byte (0) or a back reference
// (1): a hash byte h and a count n. A back reference copies 2+n bytes from
// the last position whose byte pair hashed to h (pair hash: x[p]^x[p+1]).
// Both sides update the hash table the same way: after each item, for every
// position p not yet hashed below the write position minus one, except that
// the n extra bytes of a back reference are skipped.

// Compress compresses a whole little- or big-endian message (header
// included). ok is false, and nil is returned, when the result would not be
// under half of the input, which is when q sends the message uncompressed.
func Compress(msg []byte) (out []byte, ok bool) {
	h, err := ParseHeader(msg)
	if err != nil || h.Compressed || len(msg) != h.Length {
		return nil, false
	}
	n := len(msg)
	limit := n / 2
	if limit < HeaderSize+4+2 {
		return nil, false
	}
	dst := make([]byte, limit)
	copy(dst, msg[:4])
	dst[2] = 1
	h.order().PutUint32(dst[8:], uint32(n))
	var ht [256]int
	s, p, d := HeaderSize, HeaderSize, HeaderSize+4
	ctl, bit := 0, 0
	for s < n {
		if bit == 0 {
			if d >= limit {
				return nil, false
			}
			ctl = d
			dst[d] = 0
			d++
			bit = 1
		}
		extra := -1
		var hash byte
		if s+1 < n {
			hash = msg[s] ^ msg[s+1]
			if r := ht[hash]; r != 0 && msg[r] == msg[s] && msg[r+1] == msg[s+1] {
				m := 0
				for m < 255 && s+2+m < n && msg[r+2+m] == msg[s+2+m] {
					m++
				}
				extra = m
			}
		}
		if extra >= 0 {
			if d+2 > limit {
				return nil, false
			}
			dst[ctl] |= byte(bit)
			dst[d], dst[d+1] = hash, byte(extra)
			d += 2
			s += 2
		} else {
			if d >= limit {
				return nil, false
			}
			dst[d] = msg[s]
			d++
			s++
		}
		for ; p < s-1; p++ {
			ht[msg[p]^msg[p+1]] = p
		}
		if extra > 0 {
			s += extra
			p = s
		} else if extra == 0 {
			p = s
		}
		bit <<= 1
		if bit == 256 {
			bit = 0
		}
	}
	h.order().PutUint32(dst[4:], uint32(d))
	return dst[:d], true
}

// Decompress expands a compressed message (header included) into the
// uncompressed message, header included with byte 2 cleared. The
// uncompressed length must not exceed maxSize (<= 0: the default) nor what
// the compressed bytes can expand to, so a short message cannot make it
// allocate much. Malformed streams return an error.
func Decompress(msg []byte, maxSize int) ([]byte, error) {
	h, err := ParseHeader(msg)
	if err != nil {
		return nil, err
	}
	if !h.Compressed {
		return nil, malformed("message is not compressed")
	}
	if len(msg) < HeaderSize+4 {
		return nil, malformed("compressed message of %d bytes", len(msg))
	}
	u := h.order().Uint32(msg[8:12])
	limit := Limits{MaxMessageSize: maxSize}.maxSize()
	if u > uint32(limit) {
		return nil, fmt.Errorf("%w: uncompressed length %d over the limit %d", ErrTooLarge, u, limit)
	}
	usize := int(u)
	// Each stream byte yields at most 129 bytes (a back reference: 2
	// stream bytes, 257 output bytes).
	if usize < HeaderSize+1 || usize-HeaderSize > (len(msg)-12)*129 {
		return nil, malformed("uncompressed length %d for %d compressed bytes", usize, len(msg))
	}
	dst := make([]byte, usize)
	copy(dst, msg[:HeaderSize])
	dst[2] = 0
	h.order().PutUint32(dst[4:], u)
	var ht [256]int
	s, p, d := HeaderSize, HeaderSize, HeaderSize+4
	var f byte
	bit := 0
	for s < usize {
		if bit == 0 {
			if d >= len(msg) {
				return nil, malformed("compressed stream truncated")
			}
			f = msg[d]
			d++
			bit = 1
		}
		if int(f)&bit != 0 {
			if d+2 > len(msg) {
				return nil, malformed("compressed stream truncated")
			}
			r := ht[msg[d]]
			n := int(msg[d+1])
			d += 2
			if s+2+n > usize {
				return nil, malformed("compressed back reference past the end")
			}
			dst[s], dst[s+1] = dst[r], dst[r+1]
			s += 2
			from := r + 2
			if from+n <= s {
				copy(dst[s:s+n], dst[from:from+n])
			} else {
				for m := range n { // overlapping: byte by byte, as q
					dst[s+m] = dst[from+m]
				}
			}
			for ; p < s-1; p++ {
				ht[dst[p]^dst[p+1]] = p
			}
			s += n
			p = s
		} else {
			if d >= len(msg) {
				return nil, malformed("compressed stream truncated")
			}
			dst[s] = msg[d]
			d++
			s++
			for ; p < s-1; p++ {
				ht[dst[p]^dst[p+1]] = p
			}
		}
		bit <<= 1
		if bit == 256 {
			bit = 0
		}
	}
	return dst, nil
}

// ShouldCompress reports whether q would compress messages to a peer at
// addr with the agreed capability: not on a loopback address, and
// capability at least 1.
func ShouldCompress(addr net.Addr, capability byte) bool {
	if capability < 1 {
		return false
	}
	var ip net.IP
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip = a.IP
	case *net.UnixAddr:
		return false
	default:
		if addr == nil {
			return false
		}
		host, _, err := net.SplitHostPort(addr.String())
		if err != nil {
			return false
		}
		ip = net.ParseIP(host)
	}
	return ip != nil && !ip.IsLoopback()
}
