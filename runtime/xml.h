/*
 * xml.h — a minimal reader for the small XML documents AWS answers with: STS's results
 * (credentials/sts_xml.c) and the error bodies of the query and rest-xml protocols
 * (<ErrorResponse><Error>, S3's <Error>, EC2's <Response><Errors><Error>; aws_error.c).
 *
 * Not a general XML parser: it finds elements by their exact start tag "<Tag>" (an
 * element carrying attributes is not found), decodes the five named entities and
 * numeric ASCII references (&#60;), and never reads outside [xml, xml + len). Every user
 * is fuzzed (fuzz_credentials_answers, fuzz_aws_error).
 */
#ifndef IOTLUA_XML_H
#define IOTLUA_XML_H

#include <stddef.h>

#include "buf.h"

/* The raw text between the first "<tag>" in xml[0..len) and the next "</tag>": 1 with
 * *start_out and *n_out, or 0 when there is no such element. */
int xml_element(const char *xml, size_t len, const char *tag, const char **start_out,
                size_t *n_out);
/* s[0..n) with entities and numeric ASCII references decoded, appended to out: 0, or -1
 * out of memory. */
int xml_text(struct buf *out, const char *s, size_t n);
/* The decoded text of the first <tag> inside xml[0..len) into out (reset first): 1, 0
 * when absent, -1 out of memory. */
int xml_field(const char *xml, size_t len, const char *tag, struct buf *out);

#endif
