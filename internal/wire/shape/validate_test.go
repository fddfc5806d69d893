package shape

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// TestMatchMemo: an expensive pattern (counted repeats too large for the
// backtracker) remembers its results, and remembered results are the
// regexp's own, for matching and non-matching values, long values and
// after the memo fills up.
func TestMatchMemo(t *testing.T) {
	const arn = `^arn:aws:finspace:[A-Za-z0-9_/.-]{0,63}:\d+:(environment|kxEnvironment)/[0-9A-Za-z_-]{1,128}(/(kxCluster|kxUser|kxVolume|kxScalingGroup)/[a-zA-Z0-9_-]{1,255}|/(kxDatabase/[a-zA-Z0-9_-]{1,255}(/kxDataview/[a-zA-Z0-9_-]{1,255})?))?$`
	m := MustMatcher(arn)
	if m.memo == nil {
		t.Fatal("the taggable-ARN pattern has no memo")
	}
	if MustMatcher(`^[a-zA-Z0-9]{1,26}$`).memo != nil {
		t.Error("a small pattern got a memo")
	}
	re := regexp.MustCompile(arn)
	values := []string{
		"arn:aws:finspace:us-east-1:000000000000:environment/abc",
		"arn:aws:finspace:us-east-1:000000000000:environment/abc/kxCluster/c1",
		"arn:aws:finspace:us-east-1:000000000000:environment/ab c",
		"arn:aws:finspace:us-east-1:x:environment/abc",
		"arn:aws:finspace:us-east-1:000000000000:kxEnvironment/e/kxDatabase/" + strings.Repeat("d", 255) + "/kxDataview/v",
		"arn:aws:finspace:us-east-1:000000000000:kxEnvironment/e/kxDatabase/" + strings.Repeat("d", 256),
	}
	for i := range 3000 {
		values = append(values, fmt.Sprintf("arn:aws:finspace:us-east-1:000000000000:environment/e%d", i))
	}
	for round := range 2 {
		for _, v := range values {
			if got, want := m.Match(v), re.MatchString(v); got != want {
				t.Fatalf("round %d: Match(%q) = %v, regexp says %v", round, v, got, want)
			}
		}
	}
	if n := len(m.memo.m); n == 0 || n > matchMemoEntries {
		t.Errorf("memo holds %d entries (bound %d)", n, matchMemoEntries)
	}
	long := "arn:aws:finspace:us-east-1:000000000000:environment/" + strings.Repeat("e", matchMemoValueLen)
	m.Match(long)
	if _, found := m.memo.get(long); found {
		t.Error("a value longer than the memo's limit was remembered")
	}
}
