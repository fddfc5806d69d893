package ingest

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// FormatType is a FinSpace formatParams formatType.
type FormatType string

// Supported format types. DuckDB has no XML reader: XML is parsed in Go and
// loaded through DuckDB's appender (xml.go).
const (
	FormatCSV     FormatType = "CSV"
	FormatJSON    FormatType = "JSON"
	FormatParquet FormatType = "PARQUET"
	FormatXML     FormatType = "XML"
)

// Compression is a FinSpace formatParams compression.
type Compression string

// Supported compressions.
const (
	CompressionNone  Compression = "NONE"
	CompressionGzip  Compression = "GZIP"
	CompressionZstd  Compression = "ZSTD"
	CompressionBzip2 Compression = "BZ2"
)

// Format describes the structure of every source file of one conversion.
type Format struct {
	Type        FormatType
	Compression Compression // "" means none

	// CSV only.
	WithHeader bool   // FinSpace default true (see DefaultCSV)
	Separator  string // one character; default ","
	Quote      string // one character; default `"`
	Escape     string // one character; default: the quote (RFC 4180 doubling)
	NullValue  string // the text that means NULL; default: an empty unquoted field
}

// DefaultCSV is the CSV format FinSpace assumes when only formatType is given.
func DefaultCSV() Format {
	return Format{Type: FormatCSV, WithHeader: true, Separator: ","}
}

// ParseFormatParams reads a FinSpace formatParams map. Keys are the
// documented formatType, withHeader, separator and compression, plus this
// server's quoteChar, escapeChar and nullValue for CSV. Key names and enum
// values are compared without case ("None", "gzip", "true"). Errors name the
// member.
func ParseFormatParams(p map[string]string) (Format, error) {
	get := func(k string) (string, bool) {
		for key, v := range p {
			if strings.EqualFold(key, k) {
				return v, true
			}
		}
		return "", false
	}
	ft, ok := get("formatType")
	if !ok || ft == "" {
		return Format{}, &RequestError{Member: "formatParams.formatType", Msg: "formatType is required (CSV, JSON, PARQUET or XML)"}
	}
	var f Format
	switch FormatType(strings.ToUpper(ft)) {
	case FormatCSV:
		f = DefaultCSV()
	case FormatJSON:
		f = Format{Type: FormatJSON}
	case FormatParquet:
		f = Format{Type: FormatParquet}
	case FormatXML:
		f = Format{Type: FormatXML}
	default:
		return Format{}, &RequestError{Member: "formatParams.formatType", Msg: fmt.Sprintf("unknown formatType %q (CSV, JSON, PARQUET or XML)", ft)}
	}
	if c, ok := get("compression"); ok {
		switch strings.ToUpper(c) {
		case "", "NONE":
			f.Compression = CompressionNone
		case "GZIP", "GZ":
			f.Compression = CompressionGzip
		case "ZSTD":
			f.Compression = CompressionZstd
		case "BZ2", "BZIP2":
			f.Compression = CompressionBzip2
		default:
			return Format{}, &RequestError{Member: "formatParams.compression", Msg: fmt.Sprintf("unknown compression %q (none, gzip, zstd or bz2)", c)}
		}
	}
	csvOnly := map[string]*string{"separator": &f.Separator, "quoteChar": &f.Quote, "escapeChar": &f.Escape, "nullValue": &f.NullValue}
	for k, dst := range csvOnly {
		if v, ok := get(k); ok {
			if f.Type != FormatCSV {
				return Format{}, &RequestError{Member: "formatParams." + k, Msg: k + " applies only to CSV"}
			}
			*dst = v
		}
	}
	if v, ok := get("withHeader"); ok {
		if f.Type != FormatCSV {
			return Format{}, &RequestError{Member: "formatParams.withHeader", Msg: "withHeader applies only to CSV"}
		}
		switch strings.ToLower(v) {
		case "true":
			f.WithHeader = true
		case "false":
			f.WithHeader = false
		default:
			return Format{}, &RequestError{Member: "formatParams.withHeader", Msg: fmt.Sprintf("withHeader must be true or false, not %q", v)}
		}
	}
	return f, f.Validate()
}

// Validate checks a Format for the values Convert accepts.
func (f Format) Validate() error {
	switch f.Type {
	case FormatCSV, FormatJSON, FormatParquet, FormatXML:
	default:
		return &RequestError{Member: "formatParams.formatType", Msg: fmt.Sprintf("unknown formatType %q", f.Type)}
	}
	switch f.Compression {
	case "", CompressionNone, CompressionGzip, CompressionZstd, CompressionBzip2:
	default:
		return &RequestError{Member: "formatParams.compression", Msg: fmt.Sprintf("unknown compression %q", f.Compression)}
	}
	if f.Type != FormatCSV {
		return nil
	}
	oneChar := func(member, v string, allowEmpty bool) error {
		if v == "" && allowEmpty {
			return nil
		}
		if utf8.RuneCountInString(v) != 1 || v == "\n" || v == "\r" {
			return &RequestError{Member: "formatParams." + member, Msg: fmt.Sprintf("%s must be one character other than a line break, not %q", member, v)}
		}
		return nil
	}
	if err := oneChar("separator", f.Separator, true); err != nil {
		return err
	}
	if err := oneChar("quoteChar", f.Quote, true); err != nil {
		return err
	}
	if err := oneChar("escapeChar", f.Escape, true); err != nil {
		return err
	}
	if f.sep() == f.quote() {
		return &RequestError{Member: "formatParams.separator", Msg: "separator and quoteChar must differ"}
	}
	return nil
}

func (f Format) sep() string   { return orDefault(f.Separator, ",") }
func (f Format) quote() string { return orDefault(f.Quote, `"`) }
func (f Format) escape() string {
	return orDefault(f.Escape, f.quote())
}

func (f Format) compression() Compression {
	if f.Compression == "" {
		return CompressionNone
	}
	return f.Compression
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}
