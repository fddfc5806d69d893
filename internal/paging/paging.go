// Package paging turns store cursors into opaque, tamper-evident nextToken
// strings and resolves page sizes from the model's maxResults bounds.
package paging

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"

	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/store"
)

// Codec signs and checks page tokens with an HMAC key.
type Codec struct {
	key []byte
}

// NewCodec returns a codec over key (from keyring.Key("page-tokens")).
func NewCodec(key []byte) *Codec { return &Codec{key: append([]byte(nil), key...)} }

type tokenBody struct {
	Scope   string `json:"s"`
	SortKey string `json:"k"`
	ID      string `json:"i"`
}

const macLen = 16

// Encode returns the token that continues a listing of scope after c.
// scope names the listing and its filters (e.g. "ListKxUsers|<envId>"), so a
// token is refused by any other listing.
func (p *Codec) Encode(scope string, c store.Cursor) string {
	body, _ := json.Marshal(tokenBody{Scope: scope, SortKey: c.SortKey, ID: c.ID})
	return base64.RawURLEncoding.EncodeToString(append(body, p.mac(body)...))
}

// Decode checks token and returns its cursor. A forged, truncated or foreign
// token is an Invalid fault (ValidationException on the wire).
func (p *Codec) Decode(scope, token string) (*store.Cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) <= macLen {
		return nil, invalid()
	}
	body, mac := raw[:len(raw)-macLen], raw[len(raw)-macLen:]
	if !hmac.Equal(mac, p.mac(body)) {
		return nil, invalid()
	}
	var tb tokenBody
	if err := json.Unmarshal(body, &tb); err != nil || tb.Scope != scope {
		return nil, invalid()
	}
	return &store.Cursor{SortKey: tb.SortKey, ID: tb.ID}, nil
}

func (p *Codec) mac(body []byte) []byte {
	m := hmac.New(sha256.New, p.key)
	m.Write(body)
	return m.Sum(nil)[:macLen]
}

func invalid() error {
	return fault.Invalidf("The nextToken is invalid or was issued for another request.")
}

// Limit resolves the page size: the model's maximum (or def when the model
// has none) when maxResults is absent or 0, else maxResults.
func Limit(maxResults *int64, modelMax int64, def int) int {
	if maxResults == nil || *maxResults <= 0 {
		if modelMax > 0 {
			return int(modelMax)
		}
		return def
	}
	if modelMax > 0 && *maxResults > modelMax {
		return int(modelMax)
	}
	return int(*maxResults)
}

// Page is one page of a listing; Next (nil on the last page) is the cursor
// Encode turns into a nextToken. It is store.Page, which tables return.
type Page[T any] = store.Page[T]

// ErrBadCursor is returned by listings that get a cursor they cannot use.
var ErrBadCursor = errors.New("paging: bad cursor")
