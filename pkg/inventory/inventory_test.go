package inventory

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
)

// parse builds a configuration of nodes without means (manual) plus
// extra YAML for each named node.
func parse(t *testing.T, dir string, nodes map[string]string) *config.Config {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "state_dir: %s\nhttp: {listen: \"off\"}\nnodes:\n", dir)
	port := 16230
	for _, name := range []string{"a", "b", "c", "d"} {
		extra, ok := nodes[name]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "  - name: %s\n    ipmi: {listen: \"127.0.0.1:%d\", username: admin, password: pw}\n%s", name, port, extra)
		port++
	}
	cfg, err := config.Parse("test.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func open(t *testing.T, cfg *config.Config) *Inventory {
	t.Helper()
	store, err := node.OpenStore(cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	inv := New(cfg, store, Options{})
	t.Cleanup(inv.Close)
	return inv
}

// TestOpenNode: `power --direct` builds the one node it operates, with
// no other node, no endpoint and no socket its means do not need.
func TestOpenNode(t *testing.T) {
	dir := t.TempDir()
	cfg := parse(t, dir, map[string]string{
		"a": "",
		"b": "    mac: \"aa:bb:cc:dd:ee:01\"\n    wol: {target: \"127.0.0.1:9\"}\n",
	})
	inv := open(t, cfg)
	n, err := inv.OpenNode(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Power(context.Background(), power.On); err != nil {
		t.Fatal(err)
	}
	if la := n.Snapshot().Persisted.LastAction; la == nil || la.Means != "manual" || la.Result != node.ResultOK {
		t.Errorf("last action = %+v, want a manual on", la)
	}
	if got := inv.Nodes(); len(got) != 1 || got[0] != n {
		t.Errorf("nodes = %v, want only a", got)
	}
	if inv.wolClient != nil {
		t.Error("a Wake-on-LAN socket was opened for a node without Wake-on-LAN")
	}
	if again, err := inv.OpenNode(context.Background(), "a"); err != nil || again != n {
		t.Errorf("second OpenNode = %p, %v; want the same node", again, err)
	}
	if _, err := inv.OpenNode(context.Background(), "nope"); err == nil || !strings.Contains(err.Error(), `no node "nope"`) {
		t.Errorf("OpenNode of an unknown node: %v", err)
	}
	if _, err := inv.OpenNode(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	if inv.wolClient == nil {
		t.Error("no Wake-on-LAN socket for a node with Wake-on-LAN")
	}
}

// TestReload: without endpoints, a reload keeps untouched nodes (the same
// object, its state in memory), rebuilds changed ones, stops removed ones
// and builds added ones.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	inv := open(t, parse(t, dir, map[string]string{"a": "", "b": "", "c": ""}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := inv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	a, b := inv.Node("a"), inv.Node("b")
	if a == nil || b == nil || inv.Node("c") == nil || len(inv.Snapshots()) != 3 {
		t.Fatalf("started nodes: %v", inv.Nodes())
	}
	if err := inv.Reload(parse(t, dir, map[string]string{"a": "", "b": "    fallback: error\n", "d": ""})); err != nil {
		t.Fatal(err)
	}
	if inv.Node("a") != a {
		t.Error("untouched node a was rebuilt")
	}
	if nb := inv.Node("b"); nb == nil || nb == b {
		t.Error("changed node b was not rebuilt")
	}
	if inv.Node("c") != nil || inv.Node("d") == nil {
		t.Errorf("nodes after reload: %v", inv.Nodes())
	}
	if err := inv.Reload(parse(t, t.TempDir(), map[string]string{"a": ""})); err == nil {
		t.Error("a reload that moves state_dir was applied")
	}
}
