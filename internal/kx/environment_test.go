package kx

import (
	"reflect"
	"testing"
)

func TestTransitions(t *testing.T) {
	for _, c := range []struct {
		from, to Status
		ok       bool
	}{
		{CreateRequested, Creating, true}, {Creating, Created, true}, {Created, DeleteRequested, true},
		{DeleteRequested, Deleting, true}, {Deleting, Deleted, true},
		{Created, Creating, false}, {Deleted, DeleteRequested, false}, {CreateRequested, Created, false},
	} {
		if got := CanMove(c.from, c.to); got != c.ok {
			t.Errorf("CanMove(%s, %s) = %v, want %v", c.from, c.to, got, c.ok)
		}
	}
}

func TestDerivedIdentifiers(t *testing.T) {
	if got := zoneIDs("us-east-1"); !reflect.DeepEqual(got, []string{"use1-az1", "use1-az2", "use1-az4"}) {
		t.Errorf("zoneIDs(us-east-1) = %v", got)
	}
	a, b := serviceAccount("abc"), serviceAccount("abd")
	if len(a) != 12 || a == b || serviceAccount("abc") != a {
		t.Errorf("serviceAccount: %q %q", a, b)
	}
	if u := uuidFrom("5lcklyegnrzyxd2aa6qk72"); len(u) != 36 {
		t.Errorf("uuidFrom: %q", u)
	}
}

func TestCloneCopiesZones(t *testing.T) {
	e := &Environment{AvailabilityZoneIDs: []string{"a"}}
	c := e.Clone()
	c.AvailabilityZoneIDs[0] = "b"
	if e.AvailabilityZoneIDs[0] != "a" {
		t.Error("Clone shares AvailabilityZoneIDs")
	}
}
