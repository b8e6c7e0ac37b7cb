/* The wallet beyond paying: withdrawal to the bank, coupons, the offline banner. */
"use strict";
