# Deterministic zone + dnsperf query file generator for benches/dnsperf.sh.
#
#   awk -v hosts=1750 -v queries=5000 -v seed=20240601 \
#       -v zone=bench.test.zone -v qfile=queries.txt -f gen.awk
#
# Works with mawk and gawk alike: it uses its own Park-Miller PRNG (every product
# stays below 2^53, so double arithmetic is exact) instead of awk's rand(), whose
# sequence differs between awk implementations.
#
# Zone bench.test.: SOA, NS ns1/ns2 with A glue, then host0001..hostNNNN.
#   i % 10 in 0..4 -> A, 5..7 -> AAAA, 8..9 -> TXT
#   i % 7 == 0     -> a second type as well (A host: +AAAA, AAAA host: +A, TXT host: +A)
# Every owner name is fully qualified and every record carries TTL and class, so the
# file needs no $ORIGIN/$TTL support from the parser that loads it.
#
# Queries ("name type" per line): 80% hits (a type the name has; a few at the apex),
# 10% NXDOMAIN (half "nxNNNNN.bench.test", half "www.hostNNNN.bench.test" below an
# existing name), 10% NODATA (an existing host, a type it lacks).

function rnd(n) {
    state = (state * 16807) % 2147483647
    return state % n
}

function add(i, t,    name) {
    name = sprintf("host%04d.bench.test.", i)
    if (t == "A")
        printf "%s 300 IN A 198.18.%d.%d\n", name, int(i / 256), i % 256 > zone
    else if (t == "AAAA")
        printf "%s 300 IN AAAA 2001:db8::%x\n", name, i > zone
    else
        printf "%s 300 IN TXT \"bench record %d\"\n", name, i > zone
    has[i, t] = 1
    types[i] = types[i] " " t
    nrec++
}

BEGIN {
    if (hosts == "") hosts = 1750
    if (queries == "") queries = 5000
    if (seed == "") seed = 20240601
    if (zone == "" || qfile == "") {
        print "gen.awk: set -v zone=FILE -v qfile=FILE" > "/dev/stderr"
        exit 2
    }
    hosts += 0; queries += 0
    if (hosts < 1 || hosts > 9999) {
        print "gen.awk: hosts must be 1..9999" > "/dev/stderr"
        exit 2
    }
    state = (seed % 2147483646) + 1

    print "bench.test. 3600 IN SOA ns1.bench.test. hostmaster.bench.test. 1 7200 3600 1209600 300" > zone
    print "bench.test. 3600 IN NS ns1.bench.test." > zone
    print "bench.test. 3600 IN NS ns2.bench.test." > zone
    print "ns1.bench.test. 3600 IN A 192.0.2.1" > zone
    print "ns2.bench.test. 3600 IN A 192.0.2.2" > zone
    nrec = 5

    all[1] = "A"; all[2] = "AAAA"; all[3] = "TXT"
    for (i = 1; i <= hosts; i++) {
        k = i % 10
        main = (k <= 4) ? "A" : (k <= 7) ? "AAAA" : "TXT"
        add(i, main)
        if (i % 7 == 0)
            add(i, main == "A" ? "AAAA" : "A")
    }
    close(zone)

    nhit = nnx = nnodata = 0
    for (q = 0; q < queries; q++) {
        r = rnd(100)
        if (r < 80) {
            if (rnd(50) == 0) {
                # ~2% of the hits go to the apex and the glue names
                a = rnd(3)
                if (a == 0) print "bench.test SOA" > qfile
                else if (a == 1) print "bench.test NS" > qfile
                else print "ns" (1 + rnd(2)) ".bench.test A" > qfile
            } else {
                i = 1 + rnd(hosts)
                n = split(substr(types[i], 2), ts, " ")
                printf "host%04d.bench.test %s\n", i, ts[1 + rnd(n)] > qfile
            }
            nhit++
        } else if (r < 90) {
            if (rnd(2) == 0)
                printf "nx%05d.bench.test %s\n", rnd(100000), all[1 + rnd(3)] > qfile
            else
                printf "www.host%04d.bench.test %s\n", 1 + rnd(hosts), all[1 + rnd(3)] > qfile
            nnx++
        } else {
            i = 1 + rnd(hosts)
            n = 0
            for (j = 1; j <= 3; j++)
                if (!((i, all[j]) in has))
                    miss[++n] = all[j]
            printf "host%04d.bench.test %s\n", i, miss[1 + rnd(n)] > qfile
            nnodata++
        }
    }
    close(qfile)
    printf "gen.awk: %d records in %s; %d queries in %s (%d hit, %d nxdomain, %d nodata)\n", \
        nrec, zone, queries, qfile, nhit, nnx, nnodata > "/dev/stderr"
}
