/* fuzz_tiff: TIFF decoding (src/tiff.c over libtiff) on arbitrary bytes: the
   header (cs_image_info), the page count and a page (cs_image_decode_page), and
   the pixels' promises. The bytes are made a TIFF if they are not one, so that
   every input reaches libtiff. */
#include <string.h>

#include "internal.h"
#include "fuzz.h"

/* As fuzz_image: the limits are tested elsewhere; many runs a second here. */
#define FUZZ_MAX_PIXELS (512 * 512)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 8 || size > (1 << 20)) return 0;
    uint8_t *tiff = malloc(size);
    if (!tiff) return 0;
    memcpy(tiff, data, size);
    if (!cs_tiff_is(tiff, size)) memcpy(tiff, size % 2 ? "MM\0*" : "II*\0", 4);

    int w, h;
    cs_error err;
    cs_status info = cs_image_info(tiff, size, &w, &h, &err);
    FUZZ_REQUIRE(info == CS_OK || err.msg[0]);
    if (info == CS_OK && (long long)w * h > FUZZ_MAX_PIXELS) {
        free(tiff);
        return 0;
    }
    cs_image im;
    int pages = -1;
    if (cs_image_decode_page(&im, tiff, size, 0, &pages, &err) != CS_OK) {
        FUZZ_REQUIRE(err.code != CS_OK && err.msg[0] && im.gray == NULL);
        FUZZ_REQUIRE(info != CS_OK || pages >= 1); /* a page that reads: the count was there */
    } else {
        FUZZ_REQUIRE(info == CS_OK && im.w == w && im.h == h && im.gray != NULL);
        FUZZ_REQUIRE(pages >= 1 && pages <= CS_MAX_PAGES);
        cs_image_free(&im);
        /* The last page, which may differ in every way from the first. */
        if (pages > 1 && cs_image_decode_page(&im, tiff, size, pages - 1, NULL, &err) == CS_OK) {
            FUZZ_REQUIRE(im.gray && im.w > 0 && im.h > 0);
            cs_image_free(&im);
        }
    }
    free(tiff);
    return 0;
}
