//go:build !race

package printer

const raceEnabled = false
