"""A node in its own network namespace (ip netns + veth), one on loopback, a router in
the root namespace. Outputs through the router equal the node's; cutting the veth link
(a network partition: no closed connection, only silence) is noticed through the
middleman's heartbeats, requests go to the other node, and the node rejoins when the
link comes back. Exits 77 (skipped) where the machine does not allow namespaces."""

import os
import subprocess
import sys

from cluster_processes import Node, Router, completion, wait_for

SKIP = 77


def ip(*args, ns=None):
    command = ["ip", "netns", "exec", ns, "ip", *args] if ns else ["ip", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=20)


def must(result):
    if result.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(result.args), result.stderr.strip()))


def main():
    tag = os.getpid() % 200 + 20
    ns, host_if, ns_if = "kvclu%d" % os.getpid(), "kvh%d" % os.getpid(), "kvn%d" % os.getpid()
    host_ip, node_ip = "10.231.%d.1" % tag, "10.231.%d.2" % tag
    if ip("netns", "add", ns).returncode != 0:
        print("skipped: this machine does not allow network namespaces (ip netns add failed)")
        return SKIP
    nodes, router = [], None
    try:
        if ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if).returncode != 0:
            print("skipped: this machine does not allow veth links")
            return SKIP
        must(ip("link", "set", ns_if, "netns", ns))
        must(ip("addr", "add", host_ip + "/24", "dev", host_if))
        must(ip("link", "set", host_if, "up"))
        must(ip("addr", "add", node_ip + "/24", "dev", ns_if, ns=ns))
        must(ip("link", "set", ns_if, "up", ns=ns))
        must(ip("link", "set", "lo", "up", ns=ns))

        far = Node(host=node_ip, ns=ns)
        near = Node()
        nodes = [far, near]
        router = Router(nodes, ["--policy", "round-robin"])
        prompt = "Once upon a time"
        expected = completion(far.url, prompt, 30, temperature=0)[1]["choices"][0]["text"]
        for _ in range(4):  # round-robin: both nodes serve
            status, body = completion(router.url, prompt, 30, temperature=0)
            assert status == 200 and body["choices"][0]["text"] == expected, body
        view = router.cluster()
        assert all(n["routed"] >= 2 for n in view["nodes"]), view

        # Partition: the far node's link goes down; nothing closes, heartbeats stop.
        must(ip("link", "set", host_if, "down"))
        wait_for(lambda: [n["state"] for n in router.cluster()["nodes"] if n["address"] == far.node_address]
                 != ["up"], 30, "the router noticing the partition", interval=0.2)
        for _ in range(3):
            status, body = completion(router.url, prompt, 30, temperature=0)
            assert status == 200 and body["choices"][0]["text"] == expected, body
        must(ip("link", "set", host_if, "up"))
        router.wait_nodes_up(2, timeout=60)
        print("netns cluster: outputs equal, partition noticed, node rejoined")
        return 0
    finally:
        if router:
            router.stop()
        for n in nodes:
            n.stop()
        ip("link", "del", host_if)
        ip("netns", "del", ns)


if __name__ == "__main__":
    sys.exit(main())
