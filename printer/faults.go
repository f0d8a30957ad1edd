package printer

import (
	"fmt"
	"strings"
)

// FaultKind is what an operator has to do about a printer: the many printer-state-reasons
// keywords of IPP come down to these few.
type FaultKind string

// The fault kinds a station reports.
const (
	FaultMediaEmpty  FaultKind = "media-empty"  // load blank cards
	FaultMediaJam    FaultKind = "media-jam"    // open the printer and clear the card
	FaultRibbonLow   FaultKind = "ribbon-low"   // have a new ribbon ready
	FaultRibbonEmpty FaultKind = "ribbon-empty" // change the ribbon
	FaultDoorOpen    FaultKind = "door-open"    // close the cover
	FaultOffline     FaultKind = "offline"      // the printer is off, unplugged or not answering
	FaultOther       FaultKind = "other"        // see the printer's own message
)

// Severity of a state reason, from the keyword's suffix (RFC 8011 5.4.12). A keyword without a
// suffix is an error.
type Severity string

// Severities, least to most serious.
const (
	SeverityReport  Severity = "report"
	SeverityWarning Severity = "warning"
	SeverityError   Severity = "error"
)

// A Fault is one thing wrong with a printer, in terms an operator acts on. Reason is the printer's
// keyword without its severity suffix and Message the printer's own words, kept because they often
// say more (which tray, which ribbon) than any mapping can.
type Fault struct {
	Kind     FaultKind
	Severity Severity
	Reason   string
	Message  string
}

// Blocking reports whether the printer cannot go on until someone acts: the error severity.
func (f Fault) Blocking() bool { return f.Severity == SeverityError }

// String is the line an operator reads.
func (f Fault) String() string {
	s := f.Kind.Advice()
	if f.Severity != SeverityError {
		s += " (" + string(f.Severity) + ")"
	}
	s += " [" + f.Reason + "]"
	if f.Message != "" {
		s += ": printer says " + fmt.Sprintf("%q", f.Message)
	}
	return s
}

// Advice is what the operator should do, in a few words.
func (k FaultKind) Advice() string {
	switch k {
	case FaultMediaEmpty:
		return "Out of blank cards: load the input hopper"
	case FaultMediaJam:
		return "Card jam: open the printer and remove the card"
	case FaultRibbonLow:
		return "Ribbon low: have a new ribbon ready"
	case FaultRibbonEmpty:
		return "Ribbon empty or missing: change the ribbon"
	case FaultDoorOpen:
		return "Cover open: close the printer"
	case FaultOffline:
		return "Printer offline: check power and network"
	}
	return "Printer needs attention"
}

// SplitReason splits a printer-state-reasons keyword into its reason and severity.
func SplitReason(keyword string) (reason string, sev Severity) {
	for _, s := range []Severity{SeverityReport, SeverityWarning, SeverityError} {
		if r, ok := strings.CutSuffix(keyword, "-"+string(s)); ok {
			return r, s
		}
	}
	return keyword, SeverityError
}

// FaultsFromReasons maps printer-state-reasons keywords to faults, each carrying message (the
// printer-state-message). "none" and reasons that need nobody (a job is being processed, the
// printer is just busy, an informational report) give no fault; unknown reasons of warning or
// error severity become FaultOther so nothing the printer complains about is lost.
func FaultsFromReasons(keywords []string, message string) []Fault {
	var out []Fault
	for _, kw := range keywords {
		reason, sev := SplitReason(kw)
		kind, ok := reasonKind(reason)
		if !ok || (kind == FaultOther && sev == SeverityReport) {
			continue
		}
		out = append(out, Fault{Kind: kind, Severity: sev, Reason: reason, Message: message})
	}
	return out
}

// reasonKind maps an IPP reason (PWG 5100.9, RFC 8011, CUPS) to a fault kind; ok is false for
// reasons that are no fault at all.
func reasonKind(reason string) (FaultKind, bool) {
	switch reason {
	case "none", "", "moving-to-paused", "identify-printer-requested", "printer-restarted",
		"job-completed", "cups-waiting-for-job-completed", "processing-to-stop-point", "spool-area-full",
		"other-report":
		return "", false
	case "media-empty", "media-needed", "input-tray-missing", "input-media-supply-empty":
		return FaultMediaEmpty, true
	case "media-jam", "input-media-jam", "output-media-jam", "media-path-jam", "card-jam":
		return FaultMediaJam, true
	case "marker-supply-low", "toner-low", "ink-ribbon-low", "marker-ink-almost-empty":
		return FaultRibbonLow, true
	case "marker-supply-empty", "toner-empty", "marker-supply-missing", "ink-ribbon-empty", "ink-ribbon-missing":
		return FaultRibbonEmpty, true
	case "door-open", "cover-open", "interlock-open":
		return FaultDoorOpen, true
	case "offline", "shutdown", "timed-out", "connecting-to-device", "printer-offline":
		return FaultOffline, true
	}
	return FaultOther, true
}
