package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The fast XML reader. encoding/xml allocates per token and reads byte by
// byte through an interface (0.29 M rows/s for 4 columns, a ninth of
// DuckDB's CSV reader); this one scans a window of the stream, decodes a
// record's values into one buffer and hands the record over packed.
//
// It accepts a subset of what encoding/xml accepts (ASCII names, no
// DOCTYPE, the five predefined entities and character references) and
// produces the same values for it. Anything else, and every error, makes
// it give up: errXMLFallback. The caller then reads the source again with
// encoding/xml (loadXMLSlow), which either names the error exactly as
// before or, if the source is fine after all, does the whole conversion.
// So the fast path never accepts what the strict parser refuses, and
// errors keep their messages and lines. Only two of its findings are final:
// a record longer than Limits.MaxLineBytes (bounded memory), and nesting
// deeper than xmlMaxDepth.

var errXMLFallback = errors.New("ingest: the fast XML reader gives up")

// xmlMaxDepth bounds element nesting (the stack of open names).
const xmlMaxDepth = 1024

// Packed records: the load table holds, per record, its position (source
// << 40 | line) and its columns' values in schema order, each value's
// bytes or xmlNull, separated by xmlSep. Neither byte can be in an XML 1.0
// document's text (control characters other than tab, CR and LF are not
// XML characters, not even as character references).
const (
	xmlSep    = 0x1f
	xmlNull   = 0x1e
	xmlRecSep = 0x1d
)

// xmlBatchBytes is the size of the batches of records appended as one row.
const xmlBatchBytes = 256 << 10

func xmlPos(src int, line int64) int64 { return int64(src)<<40 | line }

// xmlRecord collects one record's values.
type xmlRecord struct {
	arena []byte
	start []int32 // per column: offset in arena, -1 when absent (NULL)
	end   []int32
}

func newXMLRecord(cols int) *xmlRecord {
	r := &xmlRecord{start: make([]int32, cols), end: make([]int32, cols)}
	r.reset()
	return r
}

func (r *xmlRecord) reset() {
	r.arena = r.arena[:0]
	for i := range r.start {
		r.start[i] = -1
	}
}

// pack appends the packed record to dst: each value (or xmlNull) after
// an xmlSep.
func (r *xmlRecord) pack(dst []byte) []byte {
	for i, s := range r.start {
		dst = append(dst, xmlSep)
		if s < 0 {
			dst = append(dst, xmlNull)
		} else {
			dst = append(dst, r.arena[s:r.end[i]]...)
		}
	}
	return dst
}

// xmlSink receives packed records.
type xmlSink func(pos int64, rec []byte) error

// xmlFast is the fast reader over one decompressed source.
type xmlFast struct {
	ctx    context.Context
	r      io.Reader
	buf    []byte
	pos    int
	end    int
	eof    bool
	rerr   error
	line   int64
	maxRec int

	src     int
	byName  map[string]int
	lower   []string // the columns' names in lower case
	nextCol int      // the column expected next
	rec     *xmlRecord
	packed  []byte
	sink    xmlSink

	// open elements: raw names in names, ends in nameEnd
	names   []byte
	nameEnd []int
	ns      []xmlBinding
	depth   int

	rootDone   bool
	recordLine int64
	col        int  // column being read (depth 3), -1 none
	isNil      bool // that column has xsi:nil
	textStart  int  // arena offset of the column's value
}

type xmlBinding struct {
	prefix, url string
	depth       int
}

// fill moves the unread bytes to the front and reads more; it reports
// whether anything was added.
func (x *xmlFast) fill() bool {
	if x.eof {
		return false
	}
	if x.pos > 0 {
		n := copy(x.buf, x.buf[x.pos:x.end])
		x.pos, x.end = 0, n
	}
	if x.end == len(x.buf) {
		if len(x.buf) >= x.maxRec+64<<10 {
			return false // a token longer than a record may be
		}
		nb := make([]byte, min(2*len(x.buf), x.maxRec+64<<10))
		copy(nb, x.buf[:x.end])
		x.buf = nb
	}
	for {
		if err := x.ctx.Err(); err != nil {
			x.eof, x.rerr = true, err
			return false
		}
		n, err := x.r.Read(x.buf[x.end:])
		x.end += n
		if err != nil {
			x.eof = true
			if !errors.Is(err, io.EOF) {
				x.rerr = err
			}
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
}

// need makes at least n bytes available; false at the end of the stream.
func (x *xmlFast) need(n int) bool {
	for x.end-x.pos < n {
		if !x.fill() {
			return false
		}
	}
	return true
}

func (x *xmlFast) giveUp() error {
	if x.rerr != nil {
		return x.rerr // the caller tells cancellation and compression apart
	}
	return errXMLFallback
}

func (x *xmlFast) tooLong() error {
	return &SourceError{File: "", Line: x.recordLine, Problem: SourceLineTooLong,
		Msg: fmt.Sprintf("the record is longer than the %d bytes a record may hold on this server", x.maxRec)}
}

// run reads the whole source.
func (x *xmlFast) run() error {
	if x.need(3) && bytes.HasPrefix(x.buf[x.pos:x.end], []byte("\xef\xbb\xbf")) {
		x.pos += 3
	}
	records := 0
	for {
		if err := x.text(); err != nil {
			return err
		}
		if !x.need(1) {
			break
		}
		// x.buf[x.pos] == '<'
		if !x.need(2) {
			return x.giveUp()
		}
		var err error
		switch c := x.buf[x.pos+1]; {
		case c == '/':
			err = x.endTag()
			if err == nil && x.depth == 1 {
				records++
				if records%4096 == 0 && x.ctx.Err() != nil {
					return x.ctx.Err()
				}
			}
		case c == '?':
			err = x.procInst()
		case c == '!':
			err = x.bang()
		default:
			err = x.startTag()
		}
		if err != nil {
			return err
		}
	}
	if x.rerr != nil {
		return x.rerr
	}
	if x.depth != 0 || !x.rootDone {
		// Unclosed elements, or no root at all (the slow reader says
		// which).
		return errXMLFallback
	}
	return nil
}

// inValue reports whether text at this point belongs to a column's value.
func (x *xmlFast) inValue() bool { return x.depth == 3 && x.col >= 0 && !x.isNil }

// text consumes character data up to the next '<' (or the end), checking
// it as encoding/xml does and keeping it when it is a column's value.
func (x *xmlFast) text() error {
	keep := x.inValue()
	significant := false
	for {
		if x.pos == x.end && !x.fill() {
			return x.sigText(significant)
		}
		done, lt, sig, err := x.textSeg(x.buf[x.pos:x.end], keep)
		significant = significant || sig
		x.pos += done
		if err != nil {
			return err
		}
		if lt {
			return x.sigText(significant)
		}
		if x.pos < x.end || x.eof {
			// An entity, CR LF, "]]>" or a character cut at the window's
			// end: read more (at the end of the stream: what is left is
			// final).
			if !x.fill() {
				if x.pos < x.end {
					return errXMLFallback
				}
				return x.sigText(significant)
			}
		}
	}
}

// textClass sorts the bytes of text: 0 needs a closer look, plainSpace
// and plainChar are copied as they are (the second is more than white
// space).
const (
	plainSpace = 1
	plainChar  = 3
)

var textClass = func() (t [256]uint8) {
	for c := 0x21; c < 0x80; c++ {
		t[c] = plainChar
	}
	t[' '], t['\t'] = plainSpace, plainSpace
	t['<'], t['&'], t[']'] = 0, 0, 0
	return t
}()

// nameClass: 1 a name's first byte, 2 a later one (ASCII only).
var nameClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		switch {
		case isNameStart(b):
			t[c] = 1
		case isNameChar(b):
			t[c] = 2
		}
	}
	return t
}()

// textSeg checks (and, with keep, decodes into the record) text at the
// start of seg, up to a '<'. It returns how many bytes it consumed, lt
// when it stopped at a '<', and whether the text is more than white
// space. It consumes fewer bytes than it could when a construct is cut
// at seg's end (unless the stream has ended).
func (x *xmlFast) textSeg(seg []byte, keep bool) (done int, lt, significant bool, err error) {
	final := x.eof
	i := 0
	for i < len(seg) {
		start := i
		var acc uint8
		for i < len(seg) {
			k := textClass[seg[i]]
			if k == 0 {
				break
			}
			acc |= k
			i++
		}
		if acc&2 != 0 {
			significant = true
		}
		if keep && i > start {
			x.rec.arena = append(x.rec.arena, seg[start:i]...)
			if len(x.rec.arena) > x.maxRec {
				return i, false, significant, x.tooLong()
			}
		}
		if i == len(seg) {
			break
		}
		switch c := seg[i]; {
		case c == '<':
			return i, true, significant, nil
		case c == '\n':
			x.line++
			if keep {
				x.rec.arena = append(x.rec.arena, c)
			}
			i++
		case c == '\r':
			if i+1 >= len(seg) && !final {
				return i, false, significant, nil
			}
			if keep {
				x.rec.arena = append(x.rec.arena, '\n')
			}
			i++
			if i < len(seg) && seg[i] == '\n' {
				x.line++
				i++
			}
		case c == ']':
			if i+2 >= len(seg) && !final {
				return i, false, true, nil
			}
			if i+2 < len(seg) && seg[i+1] == ']' && seg[i+2] == '>' {
				return i, false, true, errXMLFallback // unescaped ]]>
			}
			if keep {
				x.rec.arena = append(x.rec.arena, c)
			}
			significant = true
			i++
		case c == '&':
			j := bytes.IndexByte(seg[i:min(len(seg), i+16)], ';')
			if j < 0 {
				if !final && len(seg)-i < 16 {
					return i, false, true, nil
				}
				return i, false, true, errXMLFallback
			}
			var ok bool
			if keep {
				x.rec.arena, ok = appendEntity(x.rec.arena, seg[i+1:i+j])
			} else {
				_, ok = appendEntity(nil, seg[i+1:i+j])
			}
			if !ok {
				return i, false, true, errXMLFallback
			}
			significant = true
			i += j + 1
		case c < 0x20:
			return i, false, true, errXMLFallback // not an XML character
		default: // non-ASCII: a valid UTF-8 XML character
			if !utf8.FullRune(seg[i:]) && !final {
				return i, false, true, nil
			}
			r, n := utf8.DecodeRune(seg[i:])
			if r == utf8.RuneError && n == 1 || !isXMLChar(r) {
				return i, false, true, errXMLFallback
			}
			if keep {
				x.rec.arena = append(x.rec.arena, seg[i:i+n]...)
			}
			significant = true
			i += n
		}
		if keep && len(x.rec.arena) > x.maxRec {
			return i, false, significant, x.tooLong()
		}
	}
	return i, false, significant, nil
}

// sigText applies the layout's rules to text that is not only white space.
func (x *xmlFast) sigText(significant bool) error {
	if !significant {
		return nil
	}
	switch {
	case x.depth <= 2:
		return errXMLFallback // text outside the columns
	case x.depth == 3 && x.col >= 0 && x.isNil:
		return errXMLFallback // text in a nil column
	}
	return nil
}

func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// appendEntity decodes the entity or character reference ref (between &
// and ;) as encoding/xml does.
func appendEntity(dst, ref []byte) ([]byte, bool) {
	switch string(ref) {
	case "lt":
		return append(dst, '<'), true
	case "gt":
		return append(dst, '>'), true
	case "amp":
		return append(dst, '&'), true
	case "apos":
		return append(dst, '\''), true
	case "quot":
		return append(dst, '"'), true
	}
	if len(ref) < 2 || ref[0] != '#' {
		return dst, false
	}
	digits, base := ref[1:], 10
	if digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	if len(digits) == 0 {
		return dst, false
	}
	for _, d := range digits {
		if !('0' <= d && d <= '9' || base == 16 && ('a' <= d && d <= 'f' || 'A' <= d && d <= 'F')) {
			return dst, false
		}
	}
	n, err := strconv.ParseUint(string(digits), base, 64)
	if err != nil || n > utf8.MaxRune {
		return dst, false
	}
	r := rune(n)
	if !utf8.ValidRune(r) {
		r = utf8.RuneError // what string(rune(n)) gives a surrogate
	}
	if !isXMLChar(r) {
		return dst, false
	}
	return utf8.AppendRune(dst, r), true
}

func isNameStart(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '_' || c == ':'
}

func isNameChar(c byte) bool {
	return isNameStart(c) || '0' <= c && c <= '9' || c == '.' || c == '-'
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// scanName returns the length of the ASCII XML name at b[0:], 0 if there
// is none or it is not plain ASCII (the slow reader decides then).
func scanName(b []byte) int {
	if len(b) == 0 || nameClass[b[0]] != 1 {
		return 0
	}
	i := 1
	for i < len(b) && nameClass[b[i]] != 0 {
		i++
	}
	if i < len(b) && b[i] >= 0x80 {
		return 0
	}
	return i
}

// splitName is encoding/xml's nsname: prefix and local part; ok false for
// a name with more than one colon.
func splitName(n []byte) (prefix, local []byte, ok bool) {
	colon := -1
	for i, c := range n {
		if c == ':' {
			if colon >= 0 {
				return nil, nil, false
			}
			colon = i
		}
	}
	if colon <= 0 || colon == len(n)-1 {
		return nil, n, true
	}
	return n[:colon], n[colon+1:], true
}

// column finds the schema column an element names (its local name,
// without case, as the slow reader matches it: the fast reader sees only
// ASCII names). Columns mostly come in schema order: the one after the
// last is tried first.
func (x *xmlFast) column(local []byte) (int, bool) {
	if n := x.nextCol; n < len(x.lower) && asciiEqualFold(local, x.lower[n]) {
		x.nextCol = n + 1
		return n, true
	}
	i, ok := x.byName[string(local)]
	if !ok {
		i, ok = x.byName[strings.ToLower(string(local))]
	}
	if ok {
		x.nextCol = i + 1
	}
	return i, ok
}

// asciiEqualFold compares an ASCII name with a lower-case one.
func asciiEqualFold(name []byte, lower string) bool {
	if len(name) != len(lower) {
		return false
	}
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// tag makes the whole markup starting at x.pos, up to and including the
// first '>' outside quotes, available and returns its length and the
// line breaks in it.
func (x *xmlFast) tag() (n int, lines int64, ok bool) {
	from := 0
	var quote byte
	for {
		b := x.buf[x.pos:x.end]
		for i := from; i < len(b); i++ {
			switch c := b[i]; {
			case c == '\n':
				lines++
			case quote != 0:
				if c == quote {
					quote = 0
				}
			case c == '>':
				return i + 1, lines, true
			case c == '"' || c == '\'':
				quote = c
			}
		}
		from = len(b)
		if !x.fill() {
			return 0, 0, false
		}
	}
}

func (x *xmlFast) startTag() error {
	// Most start tags are "<" name ">" (or "/>"): no need to look for
	// quotes and line breaks then.
	var n int
	var lines int64
	if b := x.buf[x.pos:x.end]; len(b) > 2 {
		nl := scanName(b[1:])
		if k := 1 + nl; nl > 0 && k < len(b) && b[k] == '>' {
			n = k + 1
		} else if nl > 0 && k+1 < len(b) && b[k] == '/' && b[k+1] == '>' {
			n = k + 2
		}
	}
	if n == 0 {
		var ok bool
		if n, lines, ok = x.tag(); !ok {
			return x.giveUp()
		}
	}
	t := x.buf[x.pos : x.pos+n]
	tagLine := x.line
	x.line += lines
	x.pos += n
	body := t[1 : n-1] // between < and >
	selfClose := len(body) > 0 && body[len(body)-1] == '/'
	if selfClose {
		body = body[:len(body)-1]
	}
	nl := scanName(body)
	if nl == 0 {
		return errXMLFallback
	}
	name := body[:nl]
	_, local, ok := splitName(name)
	if !ok {
		return errXMLFallback
	}
	if x.depth >= xmlMaxDepth {
		return &SourceError{Line: tagLine, Problem: SourceMalformed,
			Msg: fmt.Sprintf("not valid XML records: elements nested deeper than %d", xmlMaxDepth)}
	}
	x.depth++
	x.names = append(x.names, name...)
	x.nameEnd = append(x.nameEnd, len(x.names))

	switch x.depth {
	case 1:
		if x.rootDone {
			return errXMLFallback // a second root
		}
	case 2:
		x.recordLine = tagLine
		x.rec.reset()
		x.nextCol = 0
	case 3:
		x.col = -1
		i, known := x.column(local)
		if known {
			if x.rec.start[i] >= 0 {
				return errXMLFallback // the column twice
			}
			x.col, x.isNil = i, false
			x.textStart = len(x.rec.arena)
			x.rec.start[i], x.rec.end[i] = int32(x.textStart), int32(x.textStart)
		}
	default:
		if x.depth == 4 && x.col >= 0 {
			return errXMLFallback // an element inside a column
		}
	}
	if len(body) > nl {
		if err := x.attrs(body[nl:]); err != nil {
			return err
		}
	}
	if selfClose {
		return x.closeElement()
	}
	return nil
}

// attrs reads a start tag's attributes: namespace bindings, xsi:nil on a
// column, and a record's attributes that are columns.
func (x *xmlFast) attrs(b []byte) error {
	// xsi:nil is resolved once the element's own bindings are known
	// (encoding/xml applies them before translating any attribute).
	var nils [][2]string // prefix, value
	defer func() {
		for _, a := range nils {
			if sp := x.resolve(a[0]); sp == xmlNS || sp == "xsi" {
				v := strings.TrimSpace(a[1])
				x.isNil = v == "true" || v == "1"
			}
		}
	}()
	for {
		sp := 0
		for sp < len(b) && isSpace(b[sp]) {
			sp++
		}
		b = b[sp:]
		if len(b) == 0 {
			return nil
		}
		if sp == 0 {
			return errXMLFallback // attributes must be separated by white space
		}
		nl := scanName(b)
		if nl == 0 {
			return errXMLFallback
		}
		prefix, local, ok := splitName(b[:nl])
		if !ok {
			return errXMLFallback
		}
		b = b[nl:]
		for len(b) > 0 && isSpace(b[0]) {
			b = b[1:]
		}
		if len(b) == 0 || b[0] != '=' {
			return errXMLFallback
		}
		b = b[1:]
		for len(b) > 0 && isSpace(b[0]) {
			b = b[1:]
		}
		if len(b) == 0 || b[0] != '"' && b[0] != '\'' {
			return errXMLFallback
		}
		q := bytes.IndexByte(b[1:], b[0])
		if q < 0 {
			return errXMLFallback
		}
		raw := b[1 : 1+q]
		b = b[q+2:]
		// Decode into the arena; dropped again unless it is kept.
		mark := len(x.rec.arena)
		if err := x.attrValue(raw); err != nil {
			return err
		}
		val := x.rec.arena[mark:]
		kept := false
		switch {
		case string(prefix) == "xmlns":
			x.ns = append(x.ns, xmlBinding{prefix: string(local), url: string(val), depth: x.depth})
		case x.depth == 2 && prefix == nil:
			if i, known := x.byName[strings.ToLower(string(local))]; known {
				if x.rec.start[i] >= 0 {
					return errXMLFallback // the column twice
				}
				x.rec.start[i], x.rec.end[i] = int32(mark), int32(len(x.rec.arena))
				kept = true
			}
		case x.depth == 3 && x.col >= 0 && string(local) == "nil" && prefix != nil:
			nils = append(nils, [2]string{string(prefix), string(val)})
		}
		if !kept {
			x.rec.arena = x.rec.arena[:mark]
		}
		if len(x.rec.arena) > x.maxRec {
			return x.tooLong()
		}
	}
}

// attrValue checks and decodes an attribute value (without its quotes)
// into the arena, as encoding/xml's text does: no '<', no "]]>", entities,
// CR LF as LF.
func (x *xmlFast) attrValue(raw []byte) error {
	if bytes.IndexByte(raw, '<') >= 0 {
		return errXMLFallback
	}
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c >= 0x20 && c < 0x80 && c != '&' && c != ']':
			x.rec.arena = append(x.rec.arena, c)
			i++
		case c == '\n' || c == '\t':
			x.rec.arena = append(x.rec.arena, c)
			i++
		case c == '\r':
			x.rec.arena = append(x.rec.arena, '\n')
			i++
			if i < len(raw) && raw[i] == '\n' {
				i++
			}
		case c == ']':
			if i+2 < len(raw) && raw[i+1] == ']' && raw[i+2] == '>' {
				return errXMLFallback
			}
			x.rec.arena = append(x.rec.arena, c)
			i++
		case c == '&':
			j := bytes.IndexByte(raw[i:], ';')
			if j < 0 {
				return errXMLFallback
			}
			var ok bool
			if x.rec.arena, ok = appendEntity(x.rec.arena, raw[i+1:i+j]); !ok {
				return errXMLFallback
			}
			i += j + 1
		case c < 0x20:
			return errXMLFallback
		default:
			r, n := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && n == 1 || !isXMLChar(r) {
				return errXMLFallback
			}
			x.rec.arena = append(x.rec.arena, raw[i:i+n]...)
			i += n
		}
	}
	return nil
}

// resolve is a prefix's namespace as encoding/xml translates it: the
// innermost binding, or the prefix itself when unbound.
func (x *xmlFast) resolve(prefix string) string {
	for i := len(x.ns) - 1; i >= 0; i-- {
		if x.ns[i].prefix == prefix {
			return x.ns[i].url
		}
	}
	return prefix
}

func (x *xmlFast) endTag() error {
	if x.depth == 0 {
		return errXMLFallback
	}
	open := x.names[x.openStart():]
	// Most end tags are "</" name ">" in one window.
	if b := x.buf[x.pos:x.end]; len(b) >= len(open)+3 && bytes.Equal(b[2:2+len(open)], open) && b[2+len(open)] == '>' {
		x.pos += len(open) + 3
		return x.closeElement()
	}
	n, lines, ok := x.tag()
	if !ok {
		return x.giveUp()
	}
	t := x.buf[x.pos : x.pos+n]
	x.line += lines
	x.pos += n
	body := t[2 : n-1]
	if !bytes.HasPrefix(body, open) {
		return errXMLFallback // closed by another name
	}
	for _, c := range body[len(open):] {
		if !isSpace(c) {
			return errXMLFallback
		}
	}
	return x.closeElement()
}

func (x *xmlFast) openStart() int {
	if len(x.nameEnd) < 2 {
		return 0
	}
	return x.nameEnd[len(x.nameEnd)-2]
}

// closeElement ends the innermost element.
func (x *xmlFast) closeElement() error {
	switch x.depth {
	case 1:
		x.rootDone = true
	case 2:
		x.packed = x.rec.pack(x.packed[:0])
		if err := x.sink(xmlPos(x.src, x.recordLine), x.packed); err != nil {
			return err
		}
	case 3:
		if x.col >= 0 {
			if x.isNil {
				x.rec.start[x.col] = -1
			} else {
				x.rec.end[x.col] = int32(len(x.rec.arena))
			}
		}
		x.col = -1
	}
	x.names = x.names[:x.openStart()]
	x.nameEnd = x.nameEnd[:len(x.nameEnd)-1]
	for len(x.ns) > 0 && x.ns[len(x.ns)-1].depth >= x.depth {
		x.ns = x.ns[:len(x.ns)-1]
	}
	x.depth--
	return nil
}

type skipKind int

const (
	skipComment skipKind = iota
	skipPI
	skipCDATA
)

// skipUntil consumes bytes up to and including the first occurrence of
// end, counting lines. CDATA is checked and kept as character data; a
// comment must not hold "--". It returns the content before end and
// whether that is all of it (a long one is consumed in pieces).
func (x *xmlFast) skipUntil(end string, kind skipKind) ([]byte, bool, error) {
	keep := kind == skipCDATA && x.inValue()
	whole := true
	var last byte // the byte before the current piece (comments)
	piece := func(body []byte) error {
		switch kind {
		case skipCDATA:
			return x.cdataText(body, keep)
		case skipComment:
			if bytes.Contains(body, []byte("--")) || last == '-' && len(body) > 0 && body[0] == '-' {
				return errXMLFallback
			}
			if len(body) > 0 {
				last = body[len(body)-1]
			}
		}
		x.line += int64(bytes.Count(body, []byte{'\n'}))
		return nil
	}
	for {
		b := x.buf[x.pos:x.end]
		if i := bytes.Index(b, []byte(end)); i >= 0 {
			body := b[:i]
			if err := piece(body); err != nil {
				return nil, false, err
			}
			if kind == skipComment && (last == '-' && i == 0 || bytes.HasSuffix(body, []byte("-"))) {
				return nil, false, errXMLFallback // "--->"
			}
			x.pos += i + len(end)
			return body, whole, nil
		}
		// Consume all but a possible partial end marker, a cut
		// character or a CR.
		cut := safeCut(b[:max(0, len(b)-len(end)+1)])
		if cut > 0 {
			if err := piece(b[:cut]); err != nil {
				return nil, false, err
			}
			x.pos += cut
			whole = false
		}
		if !x.fill() {
			return nil, false, x.giveUp()
		}
	}
}

// safeCut is the length of b without a trailing CR or an incomplete UTF-8
// sequence.
func safeCut(b []byte) int {
	n := len(b)
	for k := 1; k <= 3 && k <= n; k++ {
		if c := b[n-k]; c >= 0xc0 { // a sequence's first byte
			if !utf8.FullRune(b[n-k:]) {
				n -= k
			}
			break
		} else if c < 0x80 {
			break
		}
	}
	if n > 0 && b[n-1] == '\r' {
		n--
	}
	return n
}

// cdataText checks CDATA content as text (characters, CR LF) and keeps it.
func (x *xmlFast) cdataText(b []byte, keep bool) error {
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c >= 0x20 && c < 0x80:
			if keep {
				x.rec.arena = append(x.rec.arena, c)
			}
			i++
		case c == '\n' || c == '\t':
			if c == '\n' {
				x.line++
			}
			if keep {
				x.rec.arena = append(x.rec.arena, c)
			}
			i++
		case c == '\r':
			if keep {
				x.rec.arena = append(x.rec.arena, '\n')
			}
			i++
			if i < len(b) && b[i] == '\n' {
				x.line++
				i++
			}
		case c < 0x20:
			return errXMLFallback
		default:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 || !isXMLChar(r) {
				return errXMLFallback
			}
			if keep {
				x.rec.arena = append(x.rec.arena, b[i:i+n]...)
			}
			i += n
		}
		if keep && len(x.rec.arena) > x.maxRec {
			return x.tooLong()
		}
	}
	if !keep && x.depth <= 2 && len(bytes.TrimLeft(b, " \t\r\n")) > 0 {
		return errXMLFallback // CDATA text outside the columns
	}
	if cdataSignificant(b) && x.depth == 3 && x.col >= 0 && x.isNil {
		return errXMLFallback
	}
	return nil
}

func cdataSignificant(b []byte) bool { return len(bytes.TrimSpace(b)) > 0 }

// bang reads <!-- comments --> and <![CDATA[ ]]>; anything else (a
// DOCTYPE) is left to the slow reader.
func (x *xmlFast) bang() error {
	x.need(9) // fewer only at the end of the stream
	b := x.buf[x.pos:x.end]
	switch {
	case bytes.HasPrefix(b, []byte("<!--")):
		x.pos += 4
		// encoding/xml refuses "--" inside a comment, and "--->".
		_, _, err := x.skipUntil("-->", skipComment)
		return err
	case bytes.HasPrefix(b, []byte("<![CDATA[")):
		x.pos += 9
		_, _, err := x.skipUntil("]]>", skipCDATA)
		return err
	}
	return errXMLFallback
}

// procInst reads a processing instruction; the XML declaration's version
// and encoding are checked as encoding/xml checks them.
func (x *xmlFast) procInst() error {
	x.pos += 2
	x.need(256) // fewer only at the end of the stream
	nl := scanName(x.buf[x.pos:x.end])
	if nl == 0 || x.pos+nl == x.end {
		return errXMLFallback
	}
	target := string(x.buf[x.pos : x.pos+nl])
	x.pos += nl
	body, whole, err := x.skipUntil("?>", skipPI)
	if err != nil {
		return err
	}
	if whole && len(body) > 0 && !isSpace(body[0]) {
		return errXMLFallback // the target runs into its content
	}
	if target == "xml" {
		if !whole {
			return errXMLFallback
		}
		content := string(body)
		if v := procInst("version", content); v != "" && v != "1.0" {
			return errXMLFallback
		}
		if enc := procInst("encoding", content); enc != "" && !strings.EqualFold(enc, "utf-8") &&
			!strings.EqualFold(enc, "us-ascii") && !strings.EqualFold(enc, "ascii") {
			return errXMLFallback
		}
	}
	return nil
}

// procInst is encoding/xml's: the value of param in a processing
// instruction's content.
func procInst(param, s string) string {
	param += "="
	lenp := len(param)
	i := 0
	var sep byte
	for i < len(s) {
		sub := s[i:]
		k := strings.Index(sub, param)
		if k < 0 || lenp+k >= len(sub) {
			return ""
		}
		i += lenp + k + 1
		if c := sub[lenp+k]; c == '\'' || c == '"' {
			sep = c
			break
		}
	}
	if sep == 0 {
		return ""
	}
	j := strings.IndexByte(s[i:], sep)
	if j < 0 {
		return ""
	}
	return s[i : i+j]
}
