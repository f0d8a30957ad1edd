// Package testsupport starts the real parts that cardline's tests run against: a throwaway
// PostgreSQL cluster, a private pcscd with the virtual reader, ippeveprinter, Mailpit. Each
// harness is started by the test that needs it and stopped by t.Cleanup (or, for ones shared
// across a test binary, by TestMain).
//
// A harness whose program is missing skips the test on a developer's machine and fails it in CI
// (CI=true): there `.ci/run` installs everything, so a missing part is a broken install, not a
// reason to pass.
package testsupport

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under CI, where every real part must be present.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing ends the test because a real part is not available: fatal in CI, a skip elsewhere.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("real part missing in CI: %s (make test installs it)", msg)
	}
	t.Skipf("real part missing: %s (run make test to install it)", msg)
}

// Need returns the path of the executable name, looked up in PATH and then in the extra
// directories given, or ends the test through Missing.
func Need(t testing.TB, name string, dirs ...string) string {
	t.Helper()
	if p, err := LookPath(name, dirs...); err == nil {
		return p
	}
	Missing(t, "program %q not found in PATH or %v", name, dirs)
	return ""
}

// LookPath finds name in PATH, then in dirs.
func LookPath(name string, dirs ...string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range dirs {
		p := d + "/" + name
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("look up %s: not found in PATH or %v", name, dirs)
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
