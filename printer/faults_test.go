package printer

import (
	"reflect"
	"testing"
)

func TestFaultsFromReasons(t *testing.T) {
	for _, c := range []struct {
		reasons []string
		want    []Fault
	}{
		{[]string{"none"}, nil},
		{[]string{"media-jam-error"}, []Fault{{FaultMediaJam, SeverityError, "media-jam", "msg"}}},
		{[]string{"media-empty-error", "media-needed-error"}, []Fault{{FaultMediaEmpty, SeverityError, "media-empty", "msg"}, {FaultMediaEmpty, SeverityError, "media-needed", "msg"}}},
		{[]string{"marker-supply-low-warning"}, []Fault{{FaultRibbonLow, SeverityWarning, "marker-supply-low", "msg"}}},
		{[]string{"marker-supply-empty-error"}, []Fault{{FaultRibbonEmpty, SeverityError, "marker-supply-empty", "msg"}}},
		{[]string{"door-open"}, []Fault{{FaultDoorOpen, SeverityError, "door-open", "msg"}}}, // no suffix: error
		{[]string{"cover-open-warning"}, []Fault{{FaultDoorOpen, SeverityWarning, "cover-open", "msg"}}},
		{[]string{"offline-report"}, []Fault{{FaultOffline, SeverityReport, "offline", "msg"}}},
		{[]string{"fuser-over-temp-error"}, []Fault{{FaultOther, SeverityError, "fuser-over-temp", "msg"}}},
		{[]string{"com.example-magic-report", "moving-to-paused"}, nil}, // unknown report: nobody needs to act
	} {
		got := FaultsFromReasons(c.reasons, "msg")
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("FaultsFromReasons(%q) = %+v, want %+v", c.reasons, got, c.want)
		}
	}
}

func TestFaultString(t *testing.T) {
	f := Fault{FaultMediaJam, SeverityError, "media-jam", "Card jammed at the flipper"}
	want := `Card jam: open the printer and remove the card [media-jam]: printer says "Card jammed at the flipper"`
	if f.String() != want || !f.Blocking() {
		t.Errorf("String() = %q (blocking %v), want %q", f.String(), f.Blocking(), want)
	}
}
