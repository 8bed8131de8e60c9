// What the checks say when a fault was served with another page's contents.

/** The events case, when the handler served the next page's contents (the wrong-page plant). */
export const WRONG_PAGE_IN_EVENTS =
  /the faulting child: expected exit 0, seen a page holds another page's data at stage "first half": page 0 holds page 1's data/;
