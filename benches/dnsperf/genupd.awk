# Deterministic dnsperf dynamic-update input (dnsperf -u) for benches/dnsperf.sh.
#
#   awk -v updates=10000 -v window=1000 -v origin=bench.test -v out=updates.txt -f genupd.awk
#
# One block per update message (see "Constructing a dynamic update input file" in
# man dnsperf): the zone name, the changes, "send". Update i (0 <= i < updates):
#
#   bench.test
#   delete dynJJJJJ ...                  J = (i - window) mod updates: clears the
#                                        name added `window` updates earlier
#   add dynIIIII 300 A 10.x.y.z          a fresh name, two RRsets
#   add dynIIIII 300 TXT "dyn update I"
#   send
#
# The delete takes one of three forms in turn (i % 3): the whole name ("delete
# NAME"), each RRset ("delete NAME A", "delete NAME TXT"), each record with its
# rdata ("delete NAME A 10.x.y.z", "delete NAME TXT ..."); all three leave the name
# empty. So every update both adds and removes data, the zone never holds more than
# `window` dyn names (2 * window records) beyond the static zone, and the file can be
# replayed any number of times (dnsperf -n): by the time update i comes round again,
# its name was deleted `window` updates after it was added. Deletes of names that do
# not exist (the first `window` updates of the first pass) are no-ops that RFC 2136
# still answers with NOERROR. `window` must stay well above dnsperf's -q so that the
# add of a name has been answered before its delete is sent.

function a_rdata(i) {
    return sprintf("10.%d.%d.%d", int(i / 65536) % 256, int(i / 256) % 256, i % 256)
}

function t_rdata(i) {
    return sprintf("\"dyn update %d\"", i)
}

BEGIN {
    if (updates == "") updates = 10000
    if (window == "") window = 1000
    if (origin == "") origin = "bench.test"
    if (out == "") {
        print "genupd.awk: set -v out=FILE" > "/dev/stderr"
        exit 2
    }
    updates += 0; window += 0
    if (updates < 2 || updates > 99999 || window < 1 || window >= updates) {
        print "genupd.awk: need 2 <= updates <= 99999 and 1 <= window < updates" > "/dev/stderr"
        exit 2
    }
    for (i = 0; i < updates; i++) {
        j = (i - window + updates) % updates
        print origin > out
        name = sprintf("dyn%05d", j)
        k = i % 3
        if (k == 0) {
            print "delete " name > out
        } else if (k == 1) {
            print "delete " name " A" > out
            print "delete " name " TXT" > out
        } else {
            print "delete " name " A " a_rdata(j) > out
            print "delete " name " TXT " t_rdata(j) > out
        }
        name = sprintf("dyn%05d", i)
        print "add " name " 300 A " a_rdata(i) > out
        print "add " name " 300 TXT " t_rdata(i) > out
        print "send" > out
    }
    close(out)
    printf "genupd.awk: %d updates in %s (window %d names)\n", updates, out, window > "/dev/stderr"
}
