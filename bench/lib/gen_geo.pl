#!/usr/bin/perl
# Geo benchmark fixture: a MaxMind DB in the GeoLite2-City schema with 4,096 /24 networks (10.0.0.0/24 ..
# 10.15.255.0/24), each a "city" at a deterministic pseudo-random position on the globe, plus a query file of
# "www.<zone> A ecs=10.X.Y.Z/24" lines over those networks (and 5% from addresses outside the data).
# The same database feeds meridian-dns (geoproximity) and gdnsd's geoip plugin (auto_dc_coords).
#   perl gen_geo.pl OUT.mmdb QUERYFILE ZONE [COUNT]
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my ($out, $qfile, $zone, $count) = @ARGV;
die "usage: $0 OUT.mmdb QUERYFILE ZONE [COUNT]\n" unless $zone;
$count ||= 50000;

my %types = (
    city => 'map', continent => 'map', country => 'map', location => 'map', names => 'map',
    en => 'utf8_string', code => 'utf8_string', iso_code => 'utf8_string',
    latitude => 'double', longitude => 'double',
);
my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version => 6, record_size => 24, database_type => 'GeoLite2-City', languages => ['en'],
    description => { en => 'Meridian bench cities' }, map_key_type_callback => sub { $types{ $_[0] } },
    remove_reserved_networks => 0, alias_ipv6_to_ipv4 => 1,
);
my $seed = 12345;
sub rnd { $seed = ($seed * 1103515245 + 12345) % 2147483648; return $seed / 2147483648; }
for my $x (0 .. 15) {
    for my $y (0 .. 255) {
        my $lat = sprintf('%.2f', rnd() * 140 - 60);
        my $lon = sprintf('%.2f', rnd() * 360 - 180);
        my $cont = $lon < -30 ? 'NA' : $lon < 60 ? ($lat > 35 ? 'EU' : 'AF') : 'AS';
        $tree->insert_network("10.$x.$y.0/24", {
            city => { names => { en => "city-$x-$y" } }, continent => { code => $cont },
            country => { iso_code => 'ZZ' }, location => { latitude => $lat + 0, longitude => $lon + 0 },
        });
    }
}
open my $fh, '>:raw', $out or die "$out: $!\n";
$tree->write_tree($fh);
close $fh or die "$out: $!\n";

open my $q, '>', $qfile or die "$qfile: $!\n";
for (1 .. $count) {
    if (rnd() < 0.05) {
        printf $q "www.%s A ecs=10.%d.%d.0/24\n", $zone, 100 + int(rnd() * 100), int(rnd() * 256);
    } else {
        printf $q "www.%s A ecs=10.%d.%d.%d/24\n", $zone, int(rnd() * 16), int(rnd() * 256), int(rnd() * 256);
    }
}
close $q;
