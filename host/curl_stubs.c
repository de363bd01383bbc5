/*
 * curl_stubs.c — the parts of Debian's static libcurl that the iotlua host leaves out.
 *
 * With IOTLUA_STATIC_CURL (the default when libcurl.a is installed) the host links
 * libcurl.a instead of libcurl.so. Debian's libcurl is built with every protocol and
 * authentication scheme, and its shared library pulls in ~30 further libraries (GnuTLS,
 * Kerberos, OpenLDAP, SASL, libssh2, librtmp, p11-kit...) that the dynamic loader maps and
 * relocates at every start: about 4 ms of the ~5 ms an empty script takes when the host links
 * the shared libcurl. iotlua only ever sets CURLOPT_PROTOCOLS_STR "http,https" and never asks for
 * Negotiate authentication, so libcurl's LDAP, RTMP, SCP/SFTP and GSS-API back-ends are
 * unreachable; their entry points are defined here instead of being linked.
 *
 * Only what libcurl calls at global init, cleanup and curl_version_info has a working
 * body (libssh2_init, libssh2_exit, libssh2_version). Everything else stops the process
 * with a message naming the function: reaching one is a bug in the host, never a silent
 * success. The list is what Debian's libcurl.a 7.88 needs; CMake checks at configure time
 * that the host links with it and falls back to the shared libcurl if it does not.
 * This file is linked into the host only, never into iotlua.so or the runtime library.
 */
#include <stdio.h>
#include <stdlib.h>

static void absent(const char *name)
{
    fprintf(stderr, "iotlua: %s is not part of this build of the host "
                    "(libcurl is linked for http and https only)\n", name);
    abort();
}

#define ABSENT(name) void name(void); void name(void) { absent(#name); }

/* libcurl's global init/cleanup, curl_version and curl_version_info call these. */
int libssh2_init(int flags);
int libssh2_init(int flags)
{
    (void)flags;
    return 0;
}

void libssh2_exit(void);
void libssh2_exit(void)
{
}

const char *libssh2_version(int required);
const char *libssh2_version(int required)
{
    (void)required;
    return "absent";
}

/* curl_version asks OpenLDAP for its version and leaves it out when this fails. */
int ldap_get_option(void *ld, int option, void *out);
int ldap_get_option(void *ld, int option, void *out)
{
    (void)ld;
    (void)option;
    (void)out;
    return -1; /* LDAP_OPT_ERROR */
}

/* gss_OID GSS_C_NT_HOSTBASED_SERVICE: read only when Negotiate authentication runs. */
void *GSS_C_NT_HOSTBASED_SERVICE;

/* GSS-API (Kerberos/SPNEGO authentication) */
ABSENT(gss_delete_sec_context)
ABSENT(gss_display_name)
ABSENT(gss_display_status)
ABSENT(gss_import_name)
ABSENT(gss_init_sec_context)
ABSENT(gss_inquire_context)
ABSENT(gss_release_buffer)
ABSENT(gss_release_name)
ABSENT(gss_unwrap)
ABSENT(gss_wrap)

/* librtmp (rtmp:// URLs) */
ABSENT(RTMP_Alloc)
ABSENT(RTMP_Close)
ABSENT(RTMP_Connect1)
ABSENT(RTMP_ConnectStream)
ABSENT(RTMP_Free)
ABSENT(RTMP_Init)
ABSENT(RTMP_Read)
ABSENT(RTMP_SetBufferMS)
ABSENT(RTMP_SetupURL)
ABSENT(RTMP_Write)

/* OpenLDAP (ldap:// URLs) */
ABSENT(ber_bvfree)
ABSENT(ber_free)
ABSENT(ber_memfree)
ABSENT(ber_memvfree)
ABSENT(ber_sockbuf_add_io)
ABSENT(ldap_abandon_ext)
ABSENT(ldap_err2string)
ABSENT(ldap_free_urldesc)
ABSENT(ldap_get_attribute_ber)
ABSENT(ldap_get_dn_ber)
ABSENT(ldap_init_fd)
ABSENT(ldap_memfree)
ABSENT(ldap_msgfree)
ABSENT(ldap_msgtype)
ABSENT(ldap_parse_result)
ABSENT(ldap_parse_sasl_bind_result)
ABSENT(ldap_pvt_url_scheme2proto)
ABSENT(ldap_result)
ABSENT(ldap_sasl_bind)
ABSENT(ldap_search_ext)
ABSENT(ldap_set_option)
ABSENT(ldap_start_tls)
ABSENT(ldap_unbind_ext)
ABSENT(ldap_url_parse)

/* libssh2 (scp:// and sftp:// URLs) */
ABSENT(libssh2_agent_connect)
ABSENT(libssh2_agent_disconnect)
ABSENT(libssh2_agent_free)
ABSENT(libssh2_agent_get_identity)
ABSENT(libssh2_agent_init)
ABSENT(libssh2_agent_list_identities)
ABSENT(libssh2_agent_userauth)
ABSENT(libssh2_channel_free)
ABSENT(libssh2_channel_read_ex)
ABSENT(libssh2_channel_send_eof)
ABSENT(libssh2_channel_wait_closed)
ABSENT(libssh2_channel_wait_eof)
ABSENT(libssh2_channel_write_ex)
ABSENT(libssh2_hostkey_hash)
ABSENT(libssh2_knownhost_add)
ABSENT(libssh2_knownhost_checkp)
ABSENT(libssh2_knownhost_del)
ABSENT(libssh2_knownhost_free)
ABSENT(libssh2_knownhost_get)
ABSENT(libssh2_knownhost_init)
ABSENT(libssh2_knownhost_readfile)
ABSENT(libssh2_knownhost_writefile)
ABSENT(libssh2_scp_recv2)
ABSENT(libssh2_scp_send64)
ABSENT(libssh2_session_abstract)
ABSENT(libssh2_session_block_directions)
ABSENT(libssh2_session_callback_set)
ABSENT(libssh2_session_disconnect_ex)
ABSENT(libssh2_session_flag)
ABSENT(libssh2_session_free)
ABSENT(libssh2_session_handshake)
ABSENT(libssh2_session_hostkey)
ABSENT(libssh2_session_init_ex)
ABSENT(libssh2_session_last_errno)
ABSENT(libssh2_session_last_error)
ABSENT(libssh2_session_method_pref)
ABSENT(libssh2_session_set_blocking)
ABSENT(libssh2_sftp_close_handle)
ABSENT(libssh2_sftp_init)
ABSENT(libssh2_sftp_last_error)
ABSENT(libssh2_sftp_mkdir_ex)
ABSENT(libssh2_sftp_open_ex)
ABSENT(libssh2_sftp_read)
ABSENT(libssh2_sftp_readdir_ex)
ABSENT(libssh2_sftp_rename_ex)
ABSENT(libssh2_sftp_rmdir_ex)
ABSENT(libssh2_sftp_seek64)
ABSENT(libssh2_sftp_shutdown)
ABSENT(libssh2_sftp_stat_ex)
ABSENT(libssh2_sftp_statvfs)
ABSENT(libssh2_sftp_symlink_ex)
ABSENT(libssh2_sftp_unlink_ex)
ABSENT(libssh2_sftp_write)
ABSENT(libssh2_userauth_authenticated)
ABSENT(libssh2_userauth_keyboard_interactive_ex)
ABSENT(libssh2_userauth_list)
ABSENT(libssh2_userauth_password_ex)
ABSENT(libssh2_userauth_publickey_fromfile_ex)
