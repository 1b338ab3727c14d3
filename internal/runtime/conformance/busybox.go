package conformance

import "strconv"

// Busybox is f with the commands of a busybox image, as real backends' tests
// (test/images.Busybox) use.
func Busybox(f Fixture) Fixture {
	f.Sleep = []string{"sleep", "3600"}
	f.Exit = func(code int) []string { return []string{"sh", "-c", "exit " + strconv.Itoa(code)} }
	f.Cat = []string{"cat"}
	f.Echo = func(s string) []string { return []string{"echo", s} }
	f.ReadFile = func(path string) []string { return []string{"cat", path} }
	f.Ticks = []string{"sh", "-c", "i=0; while true; do echo tick $i; echo tock $i >&2; i=$((i+1)); sleep 0.1; done"}
	f.Listen = func(port int) []string { return []string{"httpd", "-f", "-p", strconv.Itoa(port)} }
	f.ListenLocal = func(port int) []string { return []string{"httpd", "-f", "-p", "127.0.0.1:" + strconv.Itoa(port)} }
	// Doubling a shell string passes a 512 MiB limit in ~30 steps.
	f.OOM = []string{"sh", "-c", "x=0123456789; while true; do x=$x$x; done"}
	return f
}
