// Command benchguard measures the Go client's guarded no-op call against a running rescp, next
// to the same pair of RPCs (Allow, then Record) made with the bare generated stubs on one
// channel: the difference is what the client adds. `make bench` runs it (bench/clients.py)
// against the same server as the Python client's measurement and prints both.
//
// Rounds alternate bare and guarded (ABBA) so a change in machine load hits both alike. One
// call in flight at a time: this is latency per call, not throughput. Prints one JSON object.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/rescp/rescp/clients/go"
	pb "github.com/rescp/rescp/clients/go/rescpv1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"
)

type result struct {
	BareUs    float64 `json:"bare_us"`
	GuardedUs float64 `json:"guarded_us"`
	Calls     int     `json:"calls"`
}

func main() {
	target := flag.String("target", "127.0.0.1:50051", "rescp's address")
	breaker := flag.String("breaker", "bench", "the breaker to guard with")
	rounds := flag.Int("rounds", 8, "rounds of each kind")
	round := flag.Duration("round", 500*time.Millisecond, "length of a round")
	flag.Parse()
	if err := run(*target, *breaker, *rounds, *round); err != nil {
		fmt.Fprintln(os.Stderr, "benchguard:", err)
		os.Exit(1)
	}
}

func run(target, breaker string, rounds int, round time.Duration) error {
	ctx := context.Background()
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	stub := pb.NewGuardServiceClient(conn)
	c, err := rescp.Dial(target, rescp.WithAllowTimeout(2*time.Second))
	if err != nil {
		return err
	}
	defer c.Close()
	bare := func() error {
		d, err := stub.Allow(ctx, &pb.AllowRequest{Breaker: breaker})
		if err != nil {
			return err
		}
		_, err = stub.Record(ctx, &pb.RecordRequest{Breaker: breaker, Permit: d.GetPermit(),
			Outcome: pb.Outcome_OUTCOME_SUCCESS, Duration: durationpb.New(time.Microsecond)})
		return err
	}
	call := rescp.Call{Breaker: breaker}
	guarded := func() error {
		return c.Guard(ctx, call, func(context.Context) error { return nil })
	}
	bareTimes, guardedTimes, err := abba(bare, guarded, rounds, round)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(result{BareUs: median(bareTimes),
		GuardedUs: median(guardedTimes), Calls: len(bareTimes) + len(guardedTimes)})
}

// abba times a and b call by call in alternating rounds: a b, b a, a b, ...
func abba(a, b func() error, rounds int, round time.Duration) ([]time.Duration, []time.Duration, error) {
	var times [2][]time.Duration
	for i := range 2 * rounds {
		order := [2]int{0, 1}
		if i%2 == 1 {
			order = [2]int{1, 0}
		}
		for _, slot := range order {
			if err := measure([2]func() error{a, b}[slot], round/2, &times[slot]); err != nil {
				return nil, nil, err
			}
		}
	}
	return times[0], times[1], nil
}

func measure(fn func() error, length time.Duration, into *[]time.Duration) error {
	for stop := time.Now().Add(length); time.Now().Before(stop); {
		started := time.Now()
		if err := fn(); err != nil {
			return err
		}
		*into = append(*into, time.Since(started))
	}
	return nil
}

func median(times []time.Duration) float64 {
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	return float64(times[len(times)/2]) / float64(time.Microsecond)
}
