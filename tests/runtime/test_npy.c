/* .npy I/O: a write/read round trip for every supported dtype (and the exact header layout),
 * version 2.0/3.0 headers, and every malformed-file case giving an error that names the file. */
#include <stdlib.h>
#include <unistd.h>

#include "ir/fileio.h"
#include "tests/runtime/rt_test.h"

static const fa_rt_allocator *al;
static char dir[64];

static void test_round_trip(void) {
    const fa_dtype dts[] = {FA_DT_F32, FA_DT_F64, FA_DT_F16, FA_DT_I64, FA_DT_I32, FA_DT_I16,
                            FA_DT_I8,  FA_DT_U8,  FA_DT_U16, FA_DT_U32, FA_DT_U64, FA_DT_BOOL};
    const char *descrs[] = {"<f4", "<f8", "<f2", "<i8", "<i4", "<i2",
                            "|i1", "|u1", "<u2", "<u4", "<u8", "|b1"};
    for (size_t d = 0; d < sizeof dts / sizeof dts[0]; d++) {
        for (int rank = 0; rank <= 3; rank++) {
            int64_t dims[3] = {2, 3, 5};
            fa_rt_tensor t, back;
            CHECK_OK(fa_rt_tensor_alloc(&t, dts[d], rank, dims, al));
            for (uint64_t i = 0; i < t.nbytes; i++)
                ((uint8_t *)t.data)[i] =
                    dts[d] == FA_DT_BOOL ? (uint8_t)(i % 2) : (uint8_t)(i * 7 + 1);
            char path[128];
            snprintf(path, sizeof path, "%s/t%zu_%d.npy", dir, d, rank);
            CHECK_OK(fa_rt_npy_write(path, &t));
            /* header layout: magic, v1.0, data 64-byte aligned, descr spelled as numpy does */
            char *raw;
            size_t len;
            CHECK_OK(fa_file_read_all(path, &raw, &len));
            CHECK(len >= 10 && !memcmp(raw, "\x93NUMPY\x01\x00", 8));
            size_t hlen = (size_t)(uint8_t)raw[8] | (size_t)(uint8_t)raw[9] << 8;
            CHECK((10 + hlen) % 64 == 0 && raw[10 + hlen - 1] == '\n');
            CHECK(len == 10 + hlen + t.nbytes);
            char want_descr[32];
            snprintf(want_descr, sizeof want_descr, "'descr': '%s'", descrs[d]);
            CHECK(strstr(raw + 10, want_descr) != NULL);
            const char *shapes[] = {"'shape': ()", "'shape': (2,)", "'shape': (2, 3)",
                                    "'shape': (2, 3, 5)"};
            CHECK(strstr(raw + 10, shapes[rank]) != NULL);
            free(raw);
            CHECK_OK(fa_rt_npy_read(path, &back, al));
            CHECK(back.dtype == dts[d] && rt_shape_is(&back, rank, dims));
            CHECK(back.nbytes == t.nbytes && !memcmp(back.data, t.data, (size_t)t.nbytes));
            fa_rt_tensor_free(&t, al);
            fa_rt_tensor_free(&back, al);
            unlink(path);
        }
    }
    int64_t d1[] = {1};
    uint16_t v = 0;
    fa_rt_tensor bf = rt_view(FA_DT_BF16, 1, d1, &v);
    char path[128];
    snprintf(path, sizeof path, "%s/bf.npy", dir);
    CHECK_ERR(fa_rt_npy_write(path, &bf), "no .npy equivalent");
    CHECK(access(path, F_OK) != 0);
}

/* Builds a v|major| file around |dict| followed by |ndata| bytes. */
static size_t make_file(char *buf, int major, const char *dict, size_t ndata) {
    size_t k = strlen(dict), pre = major == 1 ? 10 : 12;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (char)major;
    buf[7] = 0;
    buf[8] = (char)(k & 0xff);
    buf[9] = (char)(k >> 8);
    if (major != 1) {
        buf[10] = 0;
        buf[11] = 0;
    }
    memcpy(buf + pre, dict, k);
    for (size_t i = 0; i < ndata; i++)
        buf[pre + k + i] = (char)i;
    return pre + k + ndata;
}

static void test_versions(void) {
    char buf[512];
    fa_rt_tensor t;
    const char *d = "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }\n";
    for (int major = 1; major <= 3; major++) {
        size_t n = make_file(buf, major, d, 16);
        CHECK_OK(fa_rt_npy_parse(buf, n, "v.npy", &t, al));
        int64_t dims[] = {2, 2};
        CHECK(t.dtype == FA_DT_I32 && rt_shape_is(&t, 2, dims));
        CHECK(((int32_t *)t.data)[1] == 0x07060504);
        fa_rt_tensor_free(&t, al);
    }
    /* double quotes, no trailing comma, Python 2 long */
    size_t n = make_file(buf, 1,
                         "{\"descr\": \"<f8\", \"fortran_order\": False, "
                         "\"shape\": (1L,)}",
                         8);
    CHECK_OK(fa_rt_npy_parse(buf, n, "q.npy", &t, al));
    CHECK(t.dtype == FA_DT_F64 && t.rank == 1 && t.dims[0] == 1);
    fa_rt_tensor_free(&t, al);
}

static void test_malformed(void) {
    char buf[512];
    fa_rt_tensor t;
    const char *ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
    size_t n = make_file(buf, 1, ok, 12);
    buf[1] = 'X';
    CHECK_ERR(fa_rt_npy_parse(buf, n, "m.npy", &t, al), "m.npy: not a .npy file (bad magic)");
    n = make_file(buf, 1, ok, 12);
    CHECK_ERR(fa_rt_npy_parse(buf, 20, "m.npy", &t, al), "m.npy: truncated header");
    CHECK_ERR(fa_rt_npy_parse(buf, n - 1, "m.npy", &t, al), "m.npy: truncated data");
    n = make_file(buf, 1, ok, 13);
    CHECK_ERR(fa_rt_npy_parse(buf, n, "m.npy", &t, al), "m.npy: extra data");
    n = make_file(buf, 4, ok, 12);
    CHECK_ERR(fa_rt_npy_parse(buf, n, "m.npy", &t, al), "m.npy: unsupported .npy version 4");
    n = make_file(buf, 1, "['descr', '<f4']", 12);
    CHECK_ERR(fa_rt_npy_parse(buf, n, "m.npy", &t, al), "m.npy: header is not a dict");
    n = make_file(buf, 1, "{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", 24);
    CHECK_ERR(fa_rt_npy_parse(buf, n, "m.npy", &t, al), "m.npy: unsupported dtype '<c8'");
    n = make_file(buf, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }", 12);
    CHECK_ERR(fa_rt_npy_parse(buf, n, "m.npy", &t, al), "m.npy: unsupported dtype '>f4'");
    n = make_file(buf, 1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,)}", 12);
    CHECK_ERR(fa_rt_npy_parse(buf, n, "m.npy", &t, al), "m.npy: unsupported dtype");
    n = make_file(buf, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (3,), }", 12);
    CHECK_ERR(fa_rt_npy_parse(buf, n, "m.npy", &t, al), "m.npy: Fortran-ordered");
    n = make_file(buf, 1, "{'descr': '<f4', 'shape': (3,), }", 12);
    CHECK_ERR(fa_rt_npy_parse(buf, n, "m.npy", &t, al), "m.npy: header lacks");
    n = make_file(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': 3, }", 12);
    CHECK_ERR(fa_rt_npy_parse(buf, n, "m.npy", &t, al), "m.npy: header 'shape' is not a tuple");
    n = make_file(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-3,), }", 12);
    CHECK_ERR(fa_rt_npy_parse(buf, n, "m.npy", &t, al), "m.npy: bad entry");
    n = make_file(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1}", 12);
    CHECK_ERR(fa_rt_npy_parse(buf, n, "m.npy", &t, al), "m.npy: unexpected header key 'x'");
    n = make_file(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,) ", 12);
    CHECK_ERR(fa_rt_npy_parse(buf, n, "m.npy", &t, al), "m.npy: malformed header dict");
    n = make_file(buf, 1,
                  "{'descr': '<f4', 'fortran_order': False, "
                  "'shape': (4294967296, 4294967296, 4294967296), }",
                  12);
    CHECK_ERR(fa_rt_npy_parse(buf, n, "m.npy", &t, al), "m.npy: shape element count overflows");
    n = make_file(buf, 1,
                  "{'descr': '<f8', 'fortran_order': False, "
                  "'shape': (1099511627776, 2), }",
                  12);
    CHECK_ERR(fa_rt_npy_parse(buf, n, "m.npy", &t, al), "m.npy: tensor of");
    n = make_file(buf, 1,
                  "{'descr': '<f4', 'fortran_order': False, "
                  "'shape': (99999999999999999999,), }",
                  12);
    CHECK_ERR(fa_rt_npy_parse(buf, n, "m.npy", &t, al), "m.npy: dimension too large");
    CHECK(t.data == NULL);
    /* through the file API: errors name the path */
    char path[128];
    snprintf(path, sizeof path, "%s/missing.npy", dir);
    CHECK_ERR(fa_rt_npy_read(path, &t, al), "missing.npy");
    snprintf(path, sizeof path, "%s/bad.npy", dir);
    FILE *f = fopen(path, "wb");
    fputs("not numpy at all", f);
    fclose(f);
    CHECK_ERR(fa_rt_npy_read(path, &t, al), "bad.npy: not a .npy file");
    unlink(path);
}

int main(void) {
    al = fa_rt_allocator_default();
    snprintf(dir, sizeof dir, "/tmp/fa_npy_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip();
    test_versions();
    test_malformed();
    rmdir(dir);
    return rt_report("test_npy");
}
