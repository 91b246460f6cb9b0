#!/usr/bin/perl
# Writes a small MaxMind DB in the GeoLite2-City schema (location.latitude/longitude, continent.code,
# country.iso_code, subdivisions[0].iso_code, city.names.en) mapping test prefixes to cities on every continent.
# Used by conf/examples/dns-geo.toml (geo/cities.mmdb) and by the geo tests, which run it into a temp dir.
#   perl make_cities_mmdb.pl OUT.mmdb
# Prefixes: private and documentation ranges only (10.0.0.0/8, 2001:db8::/32), so nothing real is mislocated.
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my $out = shift or die "usage: $0 OUT.mmdb\n";

my %types = (
    city         => 'map',
    continent    => 'map',
    country      => 'map',
    location     => 'map',
    subdivisions => [ 'array', 'map' ],
    names        => 'map',
    en           => 'utf8_string',
    code         => 'utf8_string',
    iso_code     => 'utf8_string',
    latitude     => 'double',
    longitude    => 'double',
);

# prefix => [city, continent, country, subdivision, lat, lon]
my @cities = (
    [ '10.1.0.0/16',       'Frankfurt',    'EU', 'DE', 'HE',  50.11,   8.68 ],
    [ '10.1.128.0/17',     'Paris',        'EU', 'FR', 'IDF', 48.86,   2.35 ],
    [ '10.2.0.0/16',       'London',       'EU', 'GB', 'ENG', 51.51,  -0.13 ],
    [ '10.3.0.0/16',       'Ashburn',      'NA', 'US', 'VA',  39.04, -77.49 ],
    [ '10.4.0.0/16',       'San Jose',     'NA', 'US', 'CA',  37.34, -121.89 ],
    [ '10.5.0.0/16',       'Sao Paulo',    'SA', 'BR', 'SP', -23.55, -46.63 ],
    [ '10.6.0.0/16',       'Singapore',    'AS', 'SG', '01',   1.29, 103.85 ],
    [ '10.7.0.0/16',       'Tokyo',        'AS', 'JP', '13',  35.69, 139.69 ],
    [ '10.8.0.0/16',       'Sydney',       'OC', 'AU', 'NSW', -33.87, 151.21 ],
    [ '10.9.0.0/16',       'Johannesburg', 'AF', 'ZA', 'GT', -26.20,  28.05 ],
    [ '10.10.0.0/16',      'McMurdo',      'AN', 'AQ', undef, -77.85, 166.67 ],
    [ '2001:db8:1::/48',   'Frankfurt',    'EU', 'DE', 'HE',  50.11,   8.68 ],
    [ '2001:db8:3::/48',   'Ashburn',      'NA', 'US', 'VA',  39.04, -77.49 ],
    [ '2001:db8:6::/48',   'Singapore',    'AS', 'SG', '01',   1.29, 103.85 ],
    [ '2001:db8:8::/48',   'Sydney',       'OC', 'AU', 'NSW', -33.87, 151.21 ],
);

my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version               => 6,
    record_size              => 24,
    database_type            => 'GeoLite2-City',
    languages                => ['en'],
    description              => { en => 'Meridian test cities (private and documentation prefixes)' },
    map_key_type_callback    => sub { $types{ $_[0] } },
    remove_reserved_networks => 0,
    alias_ipv6_to_ipv4       => 1,
);

# Shorter prefixes first: a later, more specific insert replaces that part of the earlier one.
for my $c (sort { (split m{/}, $a->[0])[1] <=> (split m{/}, $b->[0])[1] } @cities) {
    my ( $net, $city, $cont, $country, $sub, $lat, $lon ) = @$c;
    my %rec = (
        city      => { names => { en => $city } },
        continent => { code  => $cont },
        country   => { iso_code => $country },
        location  => { latitude => $lat, longitude => $lon },
    );
    $rec{subdivisions} = [ { iso_code => $sub } ] if defined $sub;
    $tree->insert_network( $net, \%rec );
}

open my $fh, '>:raw', $out or die "$out: $!\n";
$tree->write_tree($fh);
close $fh or die "$out: $!\n";
