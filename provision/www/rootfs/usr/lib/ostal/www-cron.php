<?php
/*
 * ostal: runs WordPress's due scheduled tasks (wp-cron.php) from
 * ostal-www-cron.timer, as ostal-www: the site sets DISABLE_WP_CRON, so no
 * visit waits for them and the server never calls itself over HTTPS.
 */
if ( PHP_SAPI !== 'cli' ) {
	exit( 1 );
}
// Debian's wp-config.php picks /etc/wordpress/config-default.php.
$_SERVER['HTTP_HOST']   = 'localhost';
$_SERVER['HTTPS']       = 'on';
$_SERVER['REQUEST_URI'] = '/wp-cron.php';
require '/usr/share/wordpress/wp-cron.php';
