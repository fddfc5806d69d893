package glue

import (
	"strconv"
	"strings"

	"github.com/openfinspace/openfinspace/internal/fault"
)

// A partition Expression (GetPartitions) is, in Glue, a SQL WHERE
// predicate over partition keys. The catalog supports its simplest and
// commonest form and refuses anything else with InvalidInputException:
//
//	key = 'value' [AND key = 'value' ...]
//
// Keys are partition key names (case-insensitive), optionally quoted with
// backticks; values are single-quoted strings ('' is a quote) or unsigned
// integers, compared as text with the partition's value; AND is
// case-insensitive. An empty expression selects every partition.

// condition is one key = value test.
type condition struct {
	key   string // lower case
	value string
}

// partitionFilter is a parsed expression.
type partitionFilter []condition

func unsupportedExpr(expr, why string) error {
	return fault.Invalidf("The partition expression %q is not supported here (%s): openfinspace's catalog accepts "+
		"only key = 'value' comparisons of partition keys joined by AND.", expr, why)
}

// parseExpression parses a GetPartitions expression.
func parseExpression(expr string) (partitionFilter, error) {
	s := &scanner{src: expr}
	var f partitionFilter
	if s.skipSpace(); s.done() {
		return nil, nil
	}
	for {
		key, ok := s.ident()
		if !ok {
			return nil, unsupportedExpr(expr, "a partition key name was expected at offset "+itoa(s.pos))
		}
		s.skipSpace()
		if !s.consume("=") {
			return nil, unsupportedExpr(expr, "only = comparisons are supported")
		}
		s.skipSpace()
		val, ok, err := s.literal()
		if err != nil {
			return nil, unsupportedExpr(expr, err.Error())
		}
		if !ok {
			return nil, unsupportedExpr(expr, "a quoted string or an integer was expected at offset "+itoa(s.pos))
		}
		f = append(f, condition{key: strings.ToLower(key), value: val})
		s.skipSpace()
		if s.done() {
			return f, nil
		}
		word, _ := s.ident()
		if !strings.EqualFold(word, "AND") {
			return nil, unsupportedExpr(expr, "only AND may join comparisons")
		}
		s.skipSpace()
	}
}

// bind resolves the filter's keys against t's partition keys: the index
// of each condition's key, or InvalidInputException naming an unknown key.
func (f partitionFilter) bind(t *Table) ([]int, error) {
	idx := make([]int, len(f))
	for i, c := range f {
		idx[i] = -1
		for j, k := range t.PartitionKeys {
			if strings.EqualFold(k.Name, c.key) {
				idx[i] = j
			}
		}
		if idx[i] < 0 {
			return nil, fault.Invalidf("Unknown column '%s' in the partition expression: table %s is partitioned by %s.",
				c.key, t.Name, keyNames(t.PartitionKeys))
		}
	}
	return idx, nil
}

func keyNames(cols []Column) string {
	if len(cols) == 0 {
		return "nothing"
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

// match reports whether values satisfy every condition (idx from bind).
func (f partitionFilter) match(idx []int, values []string) bool {
	for i, c := range f {
		if idx[i] >= len(values) || values[idx[i]] != c.value {
			return false
		}
	}
	return true
}

type scanner struct {
	src string
	pos int
}

func (s *scanner) done() bool { return s.pos >= len(s.src) }

func (s *scanner) skipSpace() {
	for !s.done() && strings.IndexByte(" \t\r\n", s.src[s.pos]) >= 0 {
		s.pos++
	}
}

func (s *scanner) consume(tok string) bool {
	if strings.HasPrefix(s.src[s.pos:], tok) {
		s.pos += len(tok)
		return true
	}
	return false
}

func isIdentByte(c byte, first bool) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || !first && '0' <= c && c <= '9'
}

// ident reads a bare or backtick-quoted identifier.
func (s *scanner) ident() (string, bool) {
	if s.consume("`") {
		end := strings.IndexByte(s.src[s.pos:], '`')
		if end <= 0 {
			return "", false
		}
		id := s.src[s.pos : s.pos+end]
		s.pos += end + 1
		return id, true
	}
	start := s.pos
	for !s.done() && isIdentByte(s.src[s.pos], s.pos == start) {
		s.pos++
	}
	return s.src[start:s.pos], s.pos > start
}

type exprError string

func (e exprError) Error() string { return string(e) }

// literal reads 'text' (with ” for a quote) or an unsigned integer.
func (s *scanner) literal() (string, bool, error) {
	if s.consume("'") {
		var b strings.Builder
		for {
			i := strings.IndexByte(s.src[s.pos:], '\'')
			if i < 0 {
				return "", false, exprError("a string is not terminated")
			}
			b.WriteString(s.src[s.pos : s.pos+i])
			s.pos += i + 1
			if !s.consume("'") {
				return b.String(), true, nil
			}
			b.WriteByte('\'')
		}
	}
	start := s.pos
	for !s.done() && '0' <= s.src[s.pos] && s.src[s.pos] <= '9' {
		s.pos++
	}
	if s.pos > start && !s.done() && isIdentByte(s.src[s.pos], false) {
		return "", false, exprError("a number runs into a name at offset " + itoa(s.pos))
	}
	return s.src[start:s.pos], s.pos > start, nil
}

func itoa(n int) string { return strconv.Itoa(n) }
