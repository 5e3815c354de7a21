<?php
/*
 * Plugin Name: ostal
 * Description: The cooperative's privacy settings: no avatars from gravatar.com, no emoji from s.w.org, no client address kept with comments, no XML-RPC.
 *
 * A must-use plugin, shipped with the image (provision/www): always on.
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

// No Gravatar: avatars would send every visitor's browser to gravatar.com
// with a hash of each author's e-mail address (also in the REST API's
// avatar_urls).
add_filter( 'pre_option_show_avatars', function () {
	return '0';
} );

// Comments (closed by default) keep no address nor browser of their author.
// nginx passes 127.0.0.1 as every client's address to WordPress anyway.
add_filter( 'pre_comment_user_ip', '__return_empty_string' );
add_filter( 'pre_comment_user_agent', '__return_empty_string' );

// No emoji images and scripts from s.w.org.
remove_action( 'wp_head', 'print_emoji_detection_script', 7 );
remove_action( 'admin_print_scripts', 'print_emoji_detection_script' );
remove_action( 'wp_print_styles', 'print_emoji_styles' );
remove_action( 'admin_print_styles', 'print_emoji_styles' );
remove_filter( 'the_content_feed', 'wp_staticize_emoji' );
remove_filter( 'comment_text_rss', 'wp_staticize_emoji' );
remove_filter( 'wp_mail', 'wp_staticize_emoji_for_email' );
add_filter( 'emoji_svg_url', '__return_false' );

// No XML-RPC (nginx refuses /xmlrpc.php too) and no pingbacks.
add_filter( 'xmlrpc_enabled', '__return_false' );
add_filter( 'wp_headers', function ( $headers ) {
	unset( $headers['X-Pingback'] );
	return $headers;
} );
add_filter( 'pings_open', '__return_false' );
