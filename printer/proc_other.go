//go:build unix && !linux

package printer

import "syscall"

// childProcAttr puts a helper process in its own process group (no parent-death signal here:
// that is Linux only).
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
