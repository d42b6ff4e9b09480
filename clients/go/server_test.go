package rescp_test

// A real `rescp serve` for the tests: a subprocess on a free loopback port, SERVING before it
// is handed out, stopped (SIGCONT, SIGTERM, SIGKILL after 5 s) when the test ends.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// repo is the checkout's root (the tests run in clients/go).
var repo, _ = filepath.Abs(filepath.Join("..", ".."))

type server struct {
	target string
	cmd    *exec.Cmd
	exited chan struct{}
}

// errExited: the server exited before it was SERVING (on a free port, most likely because
// another process took the port between the probe and the bind).
var errExited = errors.New("rescp serve exited at start")

// startServer starts one on a free port, trying another port when the first was taken.
func startServer(t testing.TB) *server {
	t.Helper()
	for attempt := 1; ; attempt++ {
		s, err := launch(t, freeTarget(t))
		if err == nil {
			return s
		}
		if !errors.Is(err, errExited) || attempt == 3 {
			t.Fatal(err)
		}
	}
}

// startServerAt starts one on a given target (a restart on the same port).
func startServerAt(t testing.TB, target string) *server {
	t.Helper()
	s, err := launch(t, target)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func launch(t testing.TB, target string) (*server, error) {
	binary := os.Getenv("RESCP_BIN")
	if binary == "" {
		binary = filepath.Join(repo, ".venv", "bin", "rescp")
	}
	if _, err := os.Stat(binary); err != nil {
		return nil, fmt.Errorf("no rescp server at %s (run `make install`, or set RESCP_BIN): %w", binary, err)
	}
	s := &server{target: target, exited: make(chan struct{})}
	s.cmd = exec.Command(binary, "serve", "--store", "memory", "--listen", s.target,
		"--config", filepath.Join(repo, "clients", "scenarios", "server.toml"), "--log-level", "error")
	s.cmd.Stderr = os.Stderr
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", binary, err)
	}
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(s.stop)
	return s, s.waitServing()
}

func freeTarget(t testing.TB) string {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	return listener.Addr().String()
}

func (s *server) waitServing() error {
	conn, err := grpc.NewClient(s.target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	health := healthpb.NewHealthClient(conn)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("%w (on %s)", errExited, s.target)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		answer, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: ""})
		cancel()
		if err == nil && answer.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("rescp serve on %s never became SERVING", s.target)
}

func (s *server) signal(sig syscall.Signal) { _ = s.cmd.Process.Signal(sig) }

func (s *server) stop() {
	s.signal(syscall.SIGCONT)
	s.signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}
