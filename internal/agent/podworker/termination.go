package podworker

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Kubelet's limits on a termination message (kubecontainer's
// MaxContainerTerminationMessage*).
const (
	maxMessageBytes    = 4 * 1024
	maxMessageLogBytes = 2 * 1024
	maxMessageLogLines = 80
)

// terminationLog is the host file a container's run writes its termination
// message to, mounted at its terminationMessagePath (as kubelet mounts one),
// made empty and writable by any user.
func (a *Worker) terminationLog(pod *corev1.Pod, c *corev1.Container, attempt int) (string, error) {
	dir := filepath.Join(a.cfg.Dir, string(pod.UID), "containers", c.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, strconv.Itoa(attempt)+".termination-log")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o666)
	if err != nil {
		return "", err
	}
	f.Close()
	return path, os.Chmod(path, 0o666)
}

// addMessages fills the message of each terminated state in statuses from
// what its run wrote to its terminationMessagePath or, with
// FallbackToLogsOnError and a failure, from the tail of its log.
func (a *Worker) addMessages(ctx context.Context, pod *corev1.Pod, at Placement, statuses []corev1.ContainerStatus) {
	for i := range statuses {
		cs := &statuses[i]
		c := specContainer(pod, cs.Name)
		if c == nil {
			continue
		}
		for _, term := range []*corev1.ContainerStateTerminated{cs.State.Terminated, cs.LastTerminationState.Terminated} {
			if term != nil && term.Message == "" && term.ContainerID == cs.ContainerID {
				term.Message = a.terminationMessage(ctx, pod, at, c, int(cs.RestartCount), term.ExitCode)
			}
		}
	}
}

func (a *Worker) terminationMessage(ctx context.Context, pod *corev1.Pod, at Placement, c *corev1.Container, attempt int, exitCode int32) string {
	if c.TerminationMessagePath != "" {
		if f, err := os.Open(filepath.Join(a.cfg.Dir, string(pod.UID), "containers", c.Name, strconv.Itoa(attempt)+".termination-log")); err == nil {
			data, _ := io.ReadAll(io.LimitReader(f, maxMessageBytes))
			f.Close()
			if len(data) > 0 {
				return string(data)
			}
		}
	}
	if c.TerminationMessagePolicy != corev1.TerminationMessageFallbackToLogsOnError || exitCode == 0 {
		return ""
	}
	path, err := a.cfg.Runtime.ContainerLog(ctx, at.SandboxID, c.Name, false)
	if err != nil {
		return ""
	}
	return logTail(path)
}

// logTail is the end of a CRI-format log: its last maxMessageLogLines lines
// (and an unfinished one), at most maxMessageLogBytes.
func logTail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	partial := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		// <time> <stream> <P|F> <text>
		parts := strings.SplitN(sc.Text(), " ", 4)
		if len(parts) < 4 {
			continue
		}
		partial += parts[3]
		if parts[2] == "P" { // partial: the line goes on in the next record
			continue
		}
		lines = append(lines, partial)
		partial = ""
		if len(lines) > maxMessageLogLines {
			lines = lines[1:]
		}
	}
	out := strings.Join(lines, "\n")
	if len(lines) > 0 {
		out += "\n"
	}
	// The output's unfinished last line (`echo -n DONE`), written as a
	// partial record when the container exited, ends the message as it is.
	out += partial
	if len(out) > maxMessageLogBytes {
		out = out[len(out)-maxMessageLogBytes:]
	}
	return out
}
