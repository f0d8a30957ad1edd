//go:build race

package printer

// raceEnabled: the race detector slows the pixel loops tenfold and finds nothing in them (one
// goroutine), so the exhaustive image comparisons run a smaller set of cases under it.
const raceEnabled = true
