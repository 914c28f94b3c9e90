/* [seq, heads, dim] tensors: views, owned buffers, rows, shape errors. */
#include "aether/tensor.h"
#include "check.h"

#include <stdint.h>

static void test_numel(void)
{
    size_t n = 99;
    CHECK_STATUS(aether_tensor_numel(3, 4, 5, &n), AETHER_OK);
    CHECK_EQ_INT(n, 60);
    CHECK_STATUS(aether_tensor_numel(0, 4, 5, &n), AETHER_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_STATUS(aether_tensor_numel(SIZE_MAX / 2, 3, 1, &n), AETHER_ERR_OVERFLOW);
    CHECK_EQ_INT(n, 0);
}

static void test_view(void)
{
    float buf[24];
    aether_tensor t;
    size_t i;
    for (i = 0; i < 24; ++i)
        buf[i] = (float)i;
    CHECK_STATUS(aether_tensor_view(&t, buf, 24, 2, 3, 4), AETHER_OK);
    CHECK(t.data == buf && t.seq == 2 && t.heads == 3 && t.dim == 4 && t.owned_ == NULL);
    CHECK_EQ_INT(aether_tensor_size(&t), 24);
    /* Row (s, h) starts at (s*heads + h)*dim. */
    CHECK(aether_tensor_row(&t, 0, 0) == buf);
    CHECK(aether_tensor_row(&t, 0, 2) == buf + 8);
    CHECK(aether_tensor_row(&t, 1, 1) == buf + 16);
    CHECK(aether_tensor_row(&t, 1, 2)[3] == 23.0f);
    /* Freeing a view leaves the caller's memory alone and empties t. */
    aether_tensor_free(&t);
    CHECK(t.data == NULL && t.seq == 0 && buf[5] == 5.0f);

    /* Errors leave t untouched. */
    CHECK_STATUS(aether_tensor_view(&t, buf, 24, 2, 3, 4), AETHER_OK);
    CHECK_STATUS(aether_tensor_view(&t, buf, 23, 2, 3, 4), AETHER_ERR_SHAPE_MISMATCH);
    CHECK_STATUS(aether_tensor_view(&t, buf, 25, 2, 3, 4), AETHER_ERR_SHAPE_MISMATCH);
    CHECK_STATUS(aether_tensor_view(&t, buf, 24, SIZE_MAX, 2, 2), AETHER_ERR_OVERFLOW);
    CHECK_STATUS(aether_tensor_view(&t, NULL, 24, 2, 3, 4), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_tensor_view(NULL, buf, 24, 2, 3, 4), AETHER_ERR_NULL_ARG);
    CHECK(t.data == buf && t.seq == 2 && t.heads == 3 && t.dim == 4);
    /* Empty tensors may have no data. */
    CHECK_STATUS(aether_tensor_view(&t, NULL, 0, 0, 3, 4), AETHER_OK);
    CHECK_EQ_INT(aether_tensor_size(&t), 0);
    CHECK_STATUS(aether_tensor_view(&t, NULL, 0, 5, 0, 4), AETHER_OK);
    CHECK(t.seq == 5 && t.heads == 0);
}

static void test_zeros(void)
{
    aether_tensor t, u;
    size_t i, nonzero = 0;
    CHECK_STATUS(aether_tensor_zeros(&t, 3, 2, 5), AETHER_OK);
    CHECK(t.data != NULL && t.owned_ == t.data);
    CHECK_EQ_INT(aether_tensor_size(&t), 30);
    for (i = 0; i < 30; ++i)
        nonzero += t.data[i] != 0.0f;
    CHECK_EQ_INT(nonzero, 0);
    aether_tensor_row(&t, 2, 1)[4] = 7.0f;
    CHECK(t.data[29] == 7.0f);
    aether_tensor_free(&t);
    CHECK(t.data == NULL && t.owned_ == NULL && t.seq == 0 && t.heads == 0 && t.dim == 0);
    aether_tensor_free(&t); /* second free is harmless */
    aether_tensor_free(NULL);

    CHECK_STATUS(aether_tensor_zeros(&u, 0, 4, 8), AETHER_OK);
    CHECK(u.data != NULL && u.seq == 0);
    aether_tensor_free(&u);

    u.seq = 42;
    CHECK_STATUS(aether_tensor_zeros(&u, SIZE_MAX / 2, 2, 2), AETHER_ERR_OVERFLOW);
    /* numel fits but the byte count does not */
    CHECK_STATUS(aether_tensor_zeros(&u, SIZE_MAX / 4, 2, 1), AETHER_ERR_OVERFLOW);
    CHECK_EQ_INT(u.seq, 42);
    CHECK_STATUS(aether_tensor_zeros(NULL, 1, 1, 1), AETHER_ERR_NULL_ARG);
}

static void test_same_shape(void)
{
    float a[12], b[12];
    aether_tensor x, y;
    CHECK_STATUS(aether_tensor_view(&x, a, 12, 2, 3, 2), AETHER_OK);
    CHECK_STATUS(aether_tensor_view(&y, b, 12, 2, 3, 2), AETHER_OK);
    CHECK(aether_tensor_same_shape(&x, &y));
    /* Same element count, different shape. */
    CHECK_STATUS(aether_tensor_view(&y, b, 12, 3, 2, 2), AETHER_OK);
    CHECK(!aether_tensor_same_shape(&x, &y));
    CHECK_STATUS(aether_tensor_view(&y, b, 12, 2, 2, 3), AETHER_OK);
    CHECK(!aether_tensor_same_shape(&x, &y));
    CHECK_STATUS(aether_tensor_view(&y, b, 12, 2, 6, 1), AETHER_OK);
    CHECK(!aether_tensor_same_shape(&x, &y));
}

TEST_MAIN(test_numel, test_view, test_zeros, test_same_shape)
