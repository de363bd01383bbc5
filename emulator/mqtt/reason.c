/*
 * reason.c — the one place internal errors become MQTT 5 reason codes, MQTT 3.1.1
 * CONNACK return codes and names for logs.
 */
#include "broker_internal.h"

uint8_t broker_reason_code(enum mqtt_err err)
{
    switch (err) {
    case MQTT_OK: return 0x00;
    case MQTT_E_MALFORMED: return 0x81;         /* Malformed Packet */
    case MQTT_E_PROTOCOL: return 0x82;          /* Protocol Error */
    case MQTT_E_VERSION: return 0x84;           /* Unsupported Protocol Version */
    case MQTT_E_CLIENT_ID: return 0x85;         /* Client Identifier not valid */
    case MQTT_E_TOO_LARGE: return 0x95;         /* Packet too large */
    case MQTT_E_QOS: return 0x9B;               /* QoS not supported */
    case MQTT_E_TOPIC: return 0x90;             /* Topic Name invalid */
    case MQTT_E_PAYLOAD_FORMAT: return 0x99;    /* Payload format invalid */
    case MQTT_E_TOPIC_ALIAS: return 0x94;       /* Topic Alias invalid */
    case MQTT_E_RECEIVE_MAX: return 0x93;       /* Receive Maximum exceeded */
    case MQTT_E_AUTH_METHOD: return 0x8C;       /* Bad authentication method */
    case MQTT_E_SUB_ID: return 0xA1;            /* Subscription Identifiers not supported */
    case MQTT_NEED_MORE: case MQTT_E_NOMEM: default: return 0x80;   /* Unspecified error */
    }
}

uint8_t broker_v311_connack_code(enum mqtt_err err)
{
    switch (err) {
    case MQTT_E_VERSION: return 0x01;           /* unacceptable protocol version */
    case MQTT_E_CLIENT_ID: return 0x02;         /* identifier rejected */
    case MQTT_E_NOMEM: return 0x03;             /* server unavailable */
    default: return 0x00;                       /* anything else: just close */
    }
}

const char *broker_reason_text(uint8_t code)
{
    switch (code) {
    case 0x80: return "unspecified error";
    case 0x81: return "malformed packet";
    case 0x82: return "protocol error";
    case 0x8D: return "keep alive timeout";
    case 0x8E: return "session taken over by a connection with the same client id";
    case 0x90: return "topic name invalid (AWS IoT: at most 256 bytes and 7 slashes)";
    case 0x93: return "receive maximum exceeded";
    case 0x94: return "topic alias invalid (0, over the maximum of 8, or never given a topic)";
    case 0x95: return "packet too large (AWS IoT: payload at most 128 KiB)";
    case 0x98: return "disconnected by the emulator's QA control";
    case 0x99: return "payload format invalid";
    case 0x9B: return "QoS 2 is not supported (AWS IoT Core supports QoS 0 and 1)";
    case 0xA1: return "subscription identifiers are not supported (as on AWS IoT Core)";
    default: return "disconnected";
    }
}

const char *broker_error_name(enum mqtt_err err)
{
    switch (err) {
    case MQTT_OK: return "ok";
    case MQTT_NEED_MORE: return "truncated packet";
    case MQTT_E_MALFORMED: return "malformed packet";
    case MQTT_E_PROTOCOL: return "protocol error";
    case MQTT_E_VERSION: return "unsupported protocol version";
    case MQTT_E_CLIENT_ID: return "client identifier not valid";
    case MQTT_E_TOO_LARGE: return "packet too large";
    case MQTT_E_QOS: return "QoS 2 not supported";
    case MQTT_E_TOPIC: return "topic not valid";
    case MQTT_E_PAYLOAD_FORMAT: return "payload not UTF-8 as its format indicator says";
    case MQTT_E_TOPIC_ALIAS: return "topic alias not valid";
    case MQTT_E_RECEIVE_MAX: return "receive maximum exceeded";
    case MQTT_E_AUTH_METHOD: return "authentication method not supported";
    case MQTT_E_SUB_ID: return "subscription identifiers not supported";
    case MQTT_E_NOMEM: return "out of memory";
    }
    return "unknown error";
}
