package printer

import "syscall"

// childProcAttr puts a helper process (ippeveprinter, its D-Bus) in its own process group, so
// that signals reach its children too, and has the kernel kill it if we die first.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
