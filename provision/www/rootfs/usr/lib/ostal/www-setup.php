<?php
/*
 * ostal: sets WordPress's database up from the command line; run by
 * /usr/lib/ostal/www-init as ostal-www (its PHP-FPM pool's user), which
 * gives on standard input two lines: the administrator's password (secret
 * wordpress-admin) and the current application password of the checks
 * (secret wordpress-app, or an empty line).
 *
 *   php www-setup.php STAMP
 *
 * - a database without WordPress: installs it (wp_install), administrator
 *   "admin", no sample content, the cooperative's settings;
 * - an older database: upgrades it (wp_upgrade);
 * - makes sure the administrator has an application password named "ostal"
 *   matching the secret; when it makes a new one, prints it (one line) for
 *   www-init to store as the secret wordpress-app;
 * - remembers STAMP (option ostal_setup), so that www-init skips all this
 *   while neither WordPress nor this script changes.
 */

if ( PHP_SAPI !== 'cli' || $argc !== 2 ) {
	fwrite( STDERR, "usage: php www-setup.php STAMP\n" );
	exit( 2 );
}
$stamp = $argv[1];
$admin_password = trim( (string) fgets( STDIN ) );
$app_password   = trim( (string) fgets( STDIN ) );
if ( strlen( $admin_password ) < 12 ) {
	fwrite( STDERR, "www-setup: no administrator password on standard input\n" );
	exit( 2 );
}

// Debian's wp-config.php picks its configuration by host name: any name
// without a file of its own gets /etc/wordpress/config-default.php.
$_SERVER['HTTP_HOST']   = 'localhost';
$_SERVER['HTTPS']       = 'on';
$_SERVER['REQUEST_URI'] = '/';
define( 'WP_INSTALLING', true );
require '/usr/share/wordpress/wp-load.php';
$_SERVER['HTTP_HOST'] = wp_parse_url( WP_HOME, PHP_URL_HOST );

// No mail about the new site, and no HTTP request (the installer probes
// the site itself for pretty permalinks: they are set below instead).
function wp_new_blog_notification( $blog_title, $blog_url, $user_id, $password ) {
}
add_filter( 'pre_http_request', function () {
	return new WP_Error( 'ostal', 'no HTTP requests while setting up' );
} );
require_once ABSPATH . 'wp-admin/includes/upgrade.php';

function ostal_say( $message ) {
	fwrite( STDERR, "www-setup: $message\n" );
}

$site = json_decode( (string) @file_get_contents( '/etc/ostal/site.json' ), true );
$fqdn = is_array( $site ) && ! empty( $site['fqdn'] ) ? $site['fqdn'] : $_SERVER['HTTP_HOST'];

if ( ! is_blog_installed() ) {
	ostal_say( 'installing WordPress ' . $GLOBALS['wp_version'] );
	$title  = preg_replace( '/^www\./', '', $_SERVER['HTTP_HOST'] );
	$result = wp_install( $title, 'admin', "root@$fqdn", true, '', wp_slash( $admin_password ), get_locale() );
	if ( is_wp_error( $result ) ) {
		ostal_say( 'wp_install: ' . $result->get_error_message() );
		exit( 1 );
	}
	// No sample post, page, comment or privacy-policy draft.
	foreach ( get_posts( array( 'post_type' => 'any', 'post_status' => 'any', 'numberposts' => -1, 'fields' => 'ids' ) ) as $id ) {
		wp_delete_post( $id, true );
	}
	update_option( 'wp_page_for_privacy_policy', 0 );
	// Comments and pings closed; no avatars; plain address of posts.
	update_option( 'default_comment_status', 'closed' );
	update_option( 'default_ping_status', 'closed' );
	update_option( 'default_pingback_flag', 0 );
	update_option( 'show_avatars', 0 );
	update_option( 'users_can_register', 0 );
	update_option( 'timezone_string', 'Europe/Paris' );
	update_option( 'blogdescription', '' );
	global $wp_rewrite;
	$wp_rewrite->set_permalink_structure( '/%year%/%monthnum%/%postname%/' );
	$wp_rewrite->flush_rules( false );
} elseif ( (int) get_option( 'db_version' ) !== (int) $GLOBALS['wp_db_version'] ) {
	ostal_say( 'upgrading the database from ' . get_option( 'db_version' ) . ' to ' . $GLOBALS['wp_db_version'] );
	wp_upgrade();
}

// The checks' application password.
$admin = get_user_by( 'login', 'admin' );
if ( ! $admin ) {
	ostal_say( 'there is no user "admin": no application password for the checks' );
	exit( 1 );
}
$valid = false;
foreach ( WP_Application_Passwords::get_user_application_passwords( $admin->ID ) as $item ) {
	if ( 'ostal' !== $item['name'] ) {
		continue;
	}
	if ( '' !== $app_password && WP_Application_Passwords::check_password( $app_password, $item['password'] ) ) {
		$valid = true;
	} else {
		WP_Application_Passwords::delete_application_password( $admin->ID, $item['uuid'] );
	}
}
if ( ! $valid ) {
	$created = WP_Application_Passwords::create_new_application_password( $admin->ID, array( 'name' => 'ostal' ) );
	if ( is_wp_error( $created ) ) {
		ostal_say( 'application password: ' . $created->get_error_message() );
		exit( 1 );
	}
	ostal_say( 'made the application password "ostal" of admin' );
	echo $created[0], "\n";
}

update_option( 'ostal_setup', $stamp );
