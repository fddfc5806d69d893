package shape

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// Timestamp is a model `timestamp` without timestampFormat: in rest-json
// bodies a JSON number of epoch seconds, with a fraction for milliseconds.
type Timestamp struct{ time.Time }

// NewTimestamp returns a pointer to t as a Timestamp (nil for the zero time).
func NewTimestamp(t time.Time) *Timestamp {
	if t.IsZero() {
		return nil
	}
	return &Timestamp{t}
}

func (t Timestamp) MarshalJSON() ([]byte, error) {
	ms := t.UnixMilli()
	if ms%1000 == 0 {
		return strconv.AppendInt(nil, ms/1000, 10), nil
	}
	return strconv.AppendFloat(nil, float64(ms)/1000, 'f', 3, 64), nil
}

func (t *Timestamp) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	sec, frac := math.Modf(f)
	t.Time = time.Unix(int64(sec), int64(math.Round(frac*1e3))*1e6).UTC()
	return nil
}
